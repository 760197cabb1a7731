package main

// The README's section "Across machines", run: the function it shows is
// this file's, word for word, and runs as its program runs it.

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shmgo/shm"
	"github.com/shmgo/shm/dist"
	"github.com/shmgo/shm/dist/embedded"
)

// hits adds 1 to the shared counter "hits" n times, from any machine that
// reaches the etcd cluster at endpoints.
func hits(endpoints []string, n int) error {
	ctx := context.Background()
	c, err := dist.Connect(ctx, dist.Config{Endpoints: endpoints})
	if err != nil {
		return err
	}
	defer c.Close() // ends its lease

	v, err := dist.NewValue(ctx, c, "hits", int64(0)) // made by the first, opened by the others
	if err != nil {
		return err
	}
	for range n {
		if _, err := v.Update(ctx, func(x int64) int64 { return x + 1 }); err != nil {
			return err
		}
	}
	return nil
}

func init() { shm.Register(hits) }

// readmeAcrossMachines returns the README's section "Across machines".
func readmeAcrossMachines(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, s, ok := strings.Cut(string(b), "\n## Across machines\n")
	if !ok {
		t.Fatal("README.md has no section \"Across machines\"")
	}
	s, _, _ = strings.Cut(s, "\n## ")
	return s
}

// funcSource returns the source of the function name in file, with its
// doc comment.
func funcSource(t *testing.T, file, name string) string {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == name {
			return string(src[fset.Position(fd.Doc.Pos()).Offset:fset.Position(fd.End()).Offset])
		}
	}
	t.Fatalf("%s has no function %s", file, name)
	return ""
}

// TestREADMEAcrossMachines checks that the README shows hits as it is here,
// and runs it as the README's program does: two processes, 1000 each, on an
// embedded server; the counter must end at 2000.
func TestREADMEAcrossMachines(t *testing.T) {
	sec := readmeAcrossMachines(t)
	if src := funcSource(t, "readme_test.go", "hits"); !strings.Contains(sec, src) {
		t.Fatalf("the README's section \"Across machines\" does not show hits as readme_test.go has it:\n%s", src)
	}
	for _, line := range []string{"shm.Start(hits, srv.Endpoints(), 1000)", "cd dist && go run ./cmd/demo"} {
		if !strings.Contains(sec, line) {
			t.Errorf("the README's section \"Across machines\" no longer says %q", line)
		}
	}

	srv, err := embedded.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	a, err := shm.Start(hits, srv.Endpoints(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	b, err := shm.Start(hits, srv.Endpoints(), 1000)
	if err != nil {
		a.Kill()
		a.Join()
		t.Fatal(err)
	}
	if err := errors.Join(a.Join(), b.Join()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := dist.Connect(ctx, dist.Config{Endpoints: srv.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := dist.NewValue(ctx, c, "hits", int64(0))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := v.Load(ctx); err != nil || got != 2000 {
		t.Fatalf("hits = %d, %v after two processes added 1000 each; want 2000", got, err)
	}
}
