package shm_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/shmgo/shm"
)

func init() {
	scenarios["named-event-wait"] = scenarioNamedEventWait
	shm.Register(namedSyncChild)
}

// placeSync places one object of each kind of Event, Semaphore, Barrier and
// Cond in seg, with the Cond's Mutex.
func placeSync(t *testing.T, seg *shm.Segment) (*shm.Event, *shm.Semaphore, *shm.Barrier, *shm.Cond) {
	t.Helper()
	e := must(shm.NewEvent(shm.In(seg, "ready")))(t)
	s := must(shm.NewSemaphore(0, shm.In(seg, "permits")))(t)
	b := must(shm.NewBarrier(2, shm.In(seg, "start")))(t)
	m := must(shm.NewMutex(shm.In(seg, "mu")))(t)
	c := must(shm.NewCond(m, shm.In(seg, "changed")))(t)
	return e, s, b, c
}

func TestNamedSyncPlaceAndLookUp(t *testing.T) {
	seg := createSeg(t, 1<<16)
	e, s, b, c := placeSync(t, seg)
	bs := must(shm.NewBoundedSemaphore(3, shm.In(seg, "bounded")))(t)
	seg2 := openSeg(t, seg.Name())
	if e2 := must(shm.LookupEvent(seg2, "ready"))(t); e2 != e {
		t.Errorf("LookupEvent = %p, want %p", e2, e)
	}
	if s2 := must(shm.LookupSemaphore(seg2, "permits"))(t); s2 != s {
		t.Errorf("LookupSemaphore = %p, want %p", s2, s)
	}
	if b2 := must(shm.LookupBarrier(seg2, "start"))(t); b2.FutexAddr() != b.FutexAddr() {
		t.Errorf("LookupBarrier's word at %#x, want %#x", b2.FutexAddr(), b.FutexAddr())
	}
	c2 := must(shm.LookupCond(seg2, "changed"))(t)
	if c2.FutexAddr() != c.FutexAddr() || c2.Mutex() != c.Mutex() {
		t.Errorf("LookupCond: word %#x, Mutex %p; want %#x, %p", c2.FutexAddr(), c2.Mutex(), c.FutexAddr(), c.Mutex())
	}
	// A bounded Semaphore stays bounded when looked up.
	bs2 := must(shm.LookupSemaphore(seg2, "bounded"))(t)
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "bounded") {
				t.Errorf("Release beyond the bound of a looked-up bounded Semaphore: panic %v", r)
			}
		}()
		bs2.Release()
	}()
	if bs.Permits() != 3 {
		t.Errorf("bounded Semaphore holds %d permits, want 3", bs.Permits())
	}

	objs := must(seg2.Objects())(t)
	var got []string
	for _, o := range objs {
		got = append(got, fmt.Sprintf("%s %s %s %d", o.Name, o.Kind, o.Type, o.Len))
	}
	want := []string{
		"ready Event shm.Event 1",
		"permits Semaphore shm.Semaphore 1",
		"start Barrier shm.Barrier word 3",
		"mu Mutex shm.Mutex 1",
		"changed Cond shm.Cond 1",
		"bounded Semaphore shm.Semaphore 1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Objects:\n%q\nwant\n%q", got, want)
	}
	if objs[4].Lock != objs[3].Offset {
		t.Errorf("the Cond's record names the lock at %d, its Mutex is at %d", objs[4].Lock, objs[3].Offset)
	}

	// Look-ups of the wrong kind.
	for _, c := range []struct {
		err  error
		want string
	}{
		{second(shm.LookupEvent(seg2, "permits")), `LookupEvent("` + seg.Name() + `", "permits"): object "permits" of segment "` + seg.Name() + `" is a Semaphore, not an Event`},
		{second(shm.LookupSemaphore(seg2, "ready")), `is an Event, not a Semaphore`},
		{second(shm.LookupBarrier(seg2, "mu")), `is a Mutex, not a Barrier`},
		{second(shm.LookupCond(seg2, "start")), `is a Barrier, not a Cond`},
		{second(shm.LookupMutex(seg2, "changed")), `is a Cond, not a Mutex`},
		{second(shm.LookupValue[int64](seg2, "ready")), `is an Event, not a Value`},
		{second(shm.LookupRawArray[uint64](seg2, "start")), `is a Barrier, not a RawArray`},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("look-up of the wrong kind: %v, want %q", c.err, c.want)
		}
	}
	if _, err := shm.LookupEvent(seg2, "none"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LookupEvent of a missing name: %v", err)
	}
	if _, err := shm.NewEvent(shm.In(seg, "ready")); !errors.Is(err, fs.ErrExist) {
		t.Errorf("NewEvent of an existing name: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }

// TestNamedCondMutexElsewhere places a Cond whose Mutex is not in its
// segment: refused, and nothing is placed.
func TestNamedCondMutexElsewhere(t *testing.T) {
	seg := createSeg(t, 8192)
	other := createSeg(t, 8192)
	anon := must(shm.NewMutex())(t)
	inOther := must(shm.NewMutex(shm.In(other, "mu")))(t)
	for _, m := range []*shm.Mutex{anon, inOther} {
		_, err := shm.NewCond(m, shm.In(seg, "c"))
		if err == nil || !strings.Contains(err.Error(), "the Mutex is not in segment") {
			t.Errorf("NewCond with a Mutex outside the segment: %v", err)
		}
	}
	if objs := must(seg.Objects())(t); len(objs) != 0 {
		t.Errorf("a refused NewCond left %d objects", len(objs))
	}
	if _, err := shm.NewEvent(shm.WithLock(anon)); err == nil || !strings.Contains(err.Error(), "WithLock") {
		t.Errorf("NewEvent(WithLock): %v", err)
	}
}

// namedSyncChild looks the objects of segName up, checks that they are the
// ones Start passed, and uses them with the parent: it waits for the Event,
// meets the parent at the Barrier, releases two permits, and signals the
// Cond under its Mutex after setting the Value "flag".
func namedSyncChild(segName string, e *shm.Event, s *shm.Semaphore, b *shm.Barrier, c *shm.Cond, flag *shm.RawValue[int64], where *shm.RawValue[uint64]) error {
	seg, err := shm.Open(segName)
	if err != nil {
		return err
	}
	defer seg.Close()
	e2, err := shm.LookupEvent(seg, "ready")
	if err != nil {
		return err
	}
	s2, err := shm.LookupSemaphore(seg, "permits")
	if err != nil {
		return err
	}
	b2, err := shm.LookupBarrier(seg, "start")
	if err != nil {
		return err
	}
	c2, err := shm.LookupCond(seg, "changed")
	if err != nil {
		return err
	}
	if e2 != e || s2 != s || b2.FutexAddr() != b.FutexAddr() || c2.FutexAddr() != c.FutexAddr() || c2.Mutex() != c.Mutex() {
		return errors.New("the objects passed by Start are not the ones looked up")
	}
	ctx := context.Background()
	where.Store(uint64(e2.FutexAddr()))
	if err := e2.Wait(ctx); err != nil {
		return err
	}
	if _, err := b2.Wait(ctx); err != nil {
		return err
	}
	s2.Release()
	s2.Release()
	if err := c2.Mutex().LockContext(ctx); err != nil {
		return err
	}
	flag.Store(1)
	c2.Signal()
	c2.Mutex().Unlock()
	return nil
}

// TestNamedSyncAcrossProcesses uses each kind, placed by name, with a child
// that looks them up: the Event's Set wakes the child asleep in Wait, the
// Barrier of 2 lets both through, the Semaphore counts the child's permits,
// and the child's Signal under the Mutex wakes the parent's Cond.Wait.
func TestNamedSyncAcrossProcesses(t *testing.T) {
	seg := createSeg(t, 1<<16)
	e, s, b, c := placeSync(t, seg)
	flag := must(shm.NewRawValue[int64](0, shm.In(seg, "flag")))(t)
	where := must(shm.NewRawValue[uint64](0))(t) // the child's address of the Event's word
	ctx := context.Background()
	p := start(t, namedSyncChild, seg.Name(), e, s, b, c, flag, where)
	awaitAsleep(t, p.Pid(), func() uintptr { return uintptr(where.Load()) })
	e.Set()
	i, err := b.Wait(ctx)
	if err != nil || i < 0 || i > 1 {
		t.Fatalf("Barrier.Wait = %d, %v", i, err)
	}
	if err := s.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if s.TryAcquire() {
		t.Fatal("the Semaphore gave a third permit; the child released two")
	}
	if err := c.Mutex().LockContext(ctx); err != nil {
		t.Fatal(err)
	}
	for flag.Load() == 0 {
		if err := c.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	c.Mutex().Unlock()
	join(t, p)
}

// scenarioNamedEventWait looks up the Event "ready" and waits for it,
// saying so with the address of its word.
func scenarioNamedEventWait() int {
	seg, err := shm.Open(os.Getenv(envSeg))
	if err != nil {
		return scenarioFail("%v", err)
	}
	e, err := shm.LookupEvent(seg, "ready")
	if err != nil {
		return scenarioFail("%v", err)
	}
	fmt.Printf("waiting %d\n", e.FutexAddr())
	if err := e.Wait(context.Background()); err != nil {
		return scenarioFail("%v", err)
	}
	fmt.Println("set")
	return 0
}

// TestNamedEventUnrelated sets an Event that an unrelated program looked up
// and sleeps on.
func TestNamedEventUnrelated(t *testing.T) {
	seg := createSeg(t, 8192)
	e := must(shm.NewEvent(shm.In(seg, "ready")))(t)
	p := startScenario(t, nil, "named-event-wait", envSeg+"="+seg.Name())
	line, err := p.out.ReadString('\n')
	addr, perr := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(line), "waiting "), 10, 64)
	if err != nil || perr != nil {
		t.Fatalf("scenario said %q (%v); stderr:\n%s", line, err, p.stderr.Bytes())
	}
	awaitAsleep(t, p.cmd.Process.Pid, func() uintptr { return uintptr(addr) })
	e.Set()
	p.expect(t, "set")
	p.wait(t)
}

// TestNamedUnknownKind opens a segment with a record of a kind that this
// version does not know, as a later version may place: the directory lists
// it, its look-up says what it is, and the other objects stay usable.
func TestNamedUnknownKind(t *testing.T) {
	seg := createSeg(t, 8192)
	must(shm.NewEvent(shm.In(seg, "later")))(t)
	must(shm.NewRawValue[int64](7, shm.In(seg, "v")))(t)
	b, err := os.ReadFile("/dev/shm/" + seg.Name())
	if err != nil {
		t.Fatal(err)
	}
	put32(b, imageRecords(b)[0]+12, 100)
	seg2 := openSeg(t, writeSegment(t, b))
	objs, err := seg2.Objects()
	if err != nil || len(objs) != 2 || objs[0].Kind != "kind 100" || objs[1].Kind != "RawValue" {
		t.Fatalf("Objects = %+v, %v", objs, err)
	}
	if _, err := shm.LookupEvent(seg2, "later"); err == nil || !strings.Contains(err.Error(), "of kind 100, which this version of shm does not know") {
		t.Errorf("LookupEvent of a kind of a later version: %v", err)
	}
	if v, err := shm.LookupRawValue[int64](seg2, "v"); err != nil || v.Load() != 7 {
		t.Errorf("LookupRawValue beside a kind of a later version: %v", err)
	}
}
