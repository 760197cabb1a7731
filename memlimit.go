package shm

import (
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
)

// The pages of a segment come from shmem (the memory behind tmpfs) and are
// allocated when first written, so a segment of any size can be made and
// mapped; a process that then writes more than the machine can back is
// killed by the OOM killer, or gets a SIGBUS, long after the constructor
// returned. The array constructors refuse what could never be backed: more
// than the machine's memory and swap, or than the memory cgroup of this
// process allows. Less than that may still not be there when touched; that
// cannot be known in advance.

// A memLimit is the most memory that could ever back a shared object of this
// process, and where that figure comes from.
type memLimit struct {
	bytes uint64 // 0 when unknown: no limit is applied
	who   string // "this machine" or "the memory cgroup of this process"
	why   string // the figure and its source, for an error message
}

// theMemLimit reads the limit once, when the first array is made.
var theMemLimit = sync.OnceValue(func() memLimit { return readMemLimit("/") })

// refuses reports whether l says that an object of n bytes can never be
// backed.
func (l memLimit) refuses(n uintptr) bool { return l.bytes != 0 && uint64(n) > l.bytes }

// error returns the error for an object of n bytes that l refuses, made by
// the call described by what.
func (l memLimit) error(what string, n uintptr) error {
	return fmt.Errorf("shm: %s: %d bytes is more than %s can ever hold (%s)", what, n, l.who, l.why)
}

// readMemLimit works out the limit from the files under root ("/" but in
// tests): /proc/meminfo for the machine's memory and swap, and the memory
// cgroup of this process, version 2 or 1, found through /proc/self/cgroup.
func readMemLimit(root string) memLimit {
	mem, swap := readMeminfo(path.Join(root, "proc/meminfo"))
	if mem == 0 {
		return memLimit{}
	}
	l := memLimit{bytes: mem + swap, who: "this machine", why: size(mem+swap) + " of memory and swap"}
	cg, err := os.ReadFile(path.Join(root, "proc/self/cgroup"))
	if err != nil {
		return l
	}
	for _, line := range strings.Split(strings.TrimSpace(string(cg)), "\n") {
		// hierarchy-ID:controller-list:cgroup-path
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		var c memLimit
		switch {
		case f[0] == "0" && f[1] == "":
			c = cgroup2Limit(root, f[2], swap)
		case hasController(f[1], "memory"):
			c = cgroup1Limit(root, f[2], swap)
		}
		if c.bytes != 0 && c.bytes < l.bytes {
			l = c
		}
	}
	return l
}

// readMeminfo returns MemTotal and SwapTotal of a /proc/meminfo, in bytes.
func readMeminfo(file string) (mem, swap uint64) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "MemTotal":
			mem = kb << 10
		case "SwapTotal":
			swap = kb << 10
		}
	}
	return mem, swap
}

// cgroup2Limit returns the limit that memory.max and memory.swap.max put on
// cgroup cg and its ancestors, or a zero memLimit when they set none. The
// version 2 hierarchy is mounted at /sys/fs/cgroup, or at
// /sys/fs/cgroup/unified beside version 1 controllers.
func cgroup2Limit(root, cg string, machineSwap uint64) memLimit {
	for _, mnt := range []string{"sys/fs/cgroup", "sys/fs/cgroup/unified"} {
		base := path.Join(root, mnt)
		if _, err := os.Stat(path.Join(base, "cgroup.controllers")); err != nil {
			continue
		}
		mem, ok := minUp(base, cg, "memory.max")
		if !ok {
			return memLimit{}
		}
		swap, ok := minUp(base, cg, "memory.swap.max")
		if !ok || swap > machineSwap {
			swap = machineSwap
		}
		return memLimit{bytes: mem + swap, who: "the memory cgroup of this process",
			why: fmt.Sprintf("%s of memory and swap: memory.max and memory.swap.max of cgroup %s", size(mem+swap), cg)}
	}
	return memLimit{}
}

// cgroup1Limit returns the limit that memory.limit_in_bytes and
// memory.memsw.limit_in_bytes (memory and swap together) put on version 1
// memory cgroup cg and its ancestors, or a zero memLimit when they set none.
func cgroup1Limit(root, cg string, machineSwap uint64) memLimit {
	base := path.Join(root, "sys/fs/cgroup/memory")
	if memsw, ok := minUp(base, cg, "memory.memsw.limit_in_bytes"); ok {
		return memLimit{bytes: memsw, who: "the memory cgroup of this process",
			why: fmt.Sprintf("%s of memory and swap: memory.memsw.limit_in_bytes of cgroup %s", size(memsw), cg)}
	}
	if mem, ok := minUp(base, cg, "memory.limit_in_bytes"); ok {
		return memLimit{bytes: mem + machineSwap, who: "the memory cgroup of this process",
			why: fmt.Sprintf("%s of memory and swap: memory.limit_in_bytes of cgroup %s, and the machine's swap", size(mem+machineSwap), cg)}
	}
	return memLimit{}
}

// minUp returns the least number in file of directory base/cg and of its
// ancestors up to base, and reports whether any sets one (not "max", and the
// file exists). A cgroup namespace, or a container that mounts only its own
// cgroup, shows fewer levels than the path in /proc/self/cgroup: the levels
// missing are skipped.
func minUp(base, cg, file string) (least uint64, ok bool) {
	for dir := path.Clean("/" + cg); ; dir = path.Dir(dir) {
		if b, err := os.ReadFile(path.Join(base, dir, file)); err == nil {
			if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && (!ok || n < least) {
				least, ok = n, true
			}
		}
		if dir == "/" {
			return least, ok
		}
	}
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// size formats n bytes in GiB, or in MiB below one GiB, with one decimal.
func size(n uint64) string {
	if n < 1<<30 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}
