package embedded

import (
	"errors"
	"net"
	"net/url"
	"syscall"
	"testing"
)

// TestPortTakenIsEADDRINUSE checks that a start on a port that another
// listener holds fails with an error that start recognises, to try other
// ports.
func TestPortTakenIsEADDRINUSE(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	peer, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{dir: t.TempDir(), client: url.URL{Scheme: "http", Host: l.Addr().String()}, peer: peer, noSync: true}
	err = s.Restart()
	if err == nil {
		s.Stop()
		t.Fatal("a server started on a port that another listener holds")
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("start on a taken port = %v, not EADDRINUSE", err)
	}
}
