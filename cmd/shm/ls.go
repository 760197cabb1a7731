package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shmgo/shm"
)

const lsUsage = `usage: shm ls [-a] [-json]

Ls lists the named segments in /dev/shm, those with shm's header, with
their size, the bytes used, the number of named objects, the process that
created them and whether it lives, and their age. Sizes are in bytes, K
(1024 bytes), M and so on.

A creator's life is known only for segments of this user: another user's
creator is shown with its uid instead ("1234 (uid 1000)"). A file that cannot
be read, such as another user's 0600 segment, or whose header is damaged, is
listed with the reason after its row: ls cannot tell whether a file it
cannot read is a segment. shm's own files (.shm-*, the token tables) are
never listed. The flags are:

	-a     also list raw segments: files without shm's header, such as
	       Python's SharedMemory makes
	-json  print a JSON array with an object per segment: name, size,
	       used, objects, raw, mode, read_only, created, age_ns,
	       creator {pid, uid, alive (null when unknown)}, and error for a
	       segment that could not be read

Ls exits with status 0 when it could read /dev/shm, whatever it found in
it.
`

func runLs(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ls", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, lsUsage) }
	all := fs.Bool("a", false, "also list raw segments")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "shm ls: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	rows, err := listSegments(*all)
	if err != nil {
		fmt.Fprintf(stderr, "shm ls: %v\n", err)
		return 1
	}
	if *asJSON {
		if rows == nil {
			rows = []segRow{}
		}
		b, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			fmt.Fprintf(stderr, "shm ls: %v\n", err)
			return 1
		}
		stdout.Write(append(b, '\n'))
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSIZE\tUSED\tOBJECTS\tCREATOR\tAGE")
	uid := os.Geteuid()
	for _, r := range rows {
		size := "-"
		if r.Size > 0 || r.Error == "" {
			size = humanSize(r.Size)
		}
		switch {
		case r.Error != "":
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\terror: %s\n", r.Name, size, r.Error)
		case r.Raw:
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\traw: no shm header\n", r.Name, size)
		default:
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", r.Name, size, humanSize(r.Used), r.Objects, r.Creator.text(uid), humanAge(*r.AgeNs))
		}
	}
	tw.Flush()
	return 0
}

// listSegments describes the files in /dev/shm: those with shm's header,
// those it cannot read, and with all the raw ones too.
func listSegments(all bool) ([]segRow, error) {
	ents, err := os.ReadDir(shmDir)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	var rows []segRow
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".shm-") || !e.Type().IsRegular() {
			continue // shm's own files; directories, links and the like are no segments
		}
		r, err := describeFile(name, now)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // removed since ReadDir
		case err != nil:
			r.Error = errText(err)
			if info, err := os.Stat(filepath.Join(shmDir, name)); err == nil {
				r.Size = info.Size()
			}
		case r.Raw && !all:
			continue
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// describeFile opens the segment name and describes it.
func describeFile(name string, now time.Time) (segRow, error) {
	r := segRow{Name: name}
	seg, err := shm.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return r, err
		}
		return r, errors.New(openErr(name, err))
	}
	defer seg.Close()
	return describe(seg, now) // Stat guards its reads of the file itself
}
