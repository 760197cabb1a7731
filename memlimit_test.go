package shm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadMemLimit reads the limit from made-up /proc and /sys trees: the
// machine's memory and swap, cgroup version 2 (mounted alone or beside
// version 1) and cgroup version 1, with limits at the process's own cgroup,
// at an ancestor, or nowhere.
func TestReadMemLimit(t *testing.T) {
	const (
		mib     = 1 << 20
		gib     = 1 << 30
		meminfo = "MemTotal:        8388608 kB\nMemFree:         1000 kB\nSwapTotal:       1048576 kB\n"
		v1Max   = "9223372036854771712\n" // version 1's "no limit"
	)
	cases := []struct {
		name  string
		files map[string]string
		bytes uint64
		why   string // a part of the limit's description
	}{
		{"no proc", map[string]string{}, 0, ""},
		{"machine only", map[string]string{"proc/meminfo": meminfo}, 9 * gib, "9.0 GiB of memory and swap"},
		{"v2 no limit", map[string]string{
			"proc/meminfo":                     meminfo,
			"proc/self/cgroup":                 "0::/a/b\n",
			"sys/fs/cgroup/cgroup.controllers": "memory\n",
			"sys/fs/cgroup/a/memory.max":       "max\n",
			"sys/fs/cgroup/a/b/memory.max":     "max\n",
		}, 9 * gib, "of memory and swap"},
		{"v2 limit at an ancestor, no swap", map[string]string{
			"proc/meminfo":                      meminfo,
			"proc/self/cgroup":                  "0::/a/b\n",
			"sys/fs/cgroup/cgroup.controllers":  "memory\n",
			"sys/fs/cgroup/a/memory.max":        "536870912\n",
			"sys/fs/cgroup/a/b/memory.max":      "max\n",
			"sys/fs/cgroup/a/b/memory.swap.max": "0\n",
		}, 512 * mib, "512.0 MiB of memory and swap: memory.max and memory.swap.max of cgroup /a/b"},
		{"v2 limit, swap unlimited in the cgroup", map[string]string{
			"proc/meminfo":                     meminfo,
			"proc/self/cgroup":                 "0::/a\n",
			"sys/fs/cgroup/cgroup.controllers": "memory\n",
			"sys/fs/cgroup/a/memory.max":       "2147483648\n",
			"sys/fs/cgroup/a/memory.swap.max":  "max\n",
		}, 3 * gib, "3.0 GiB"},
		{"v2 beside v1", map[string]string{
			"proc/meminfo":     meminfo,
			"proc/self/cgroup": "1:name=systemd:/\n0::/a\n",
			"sys/fs/cgroup/unified/cgroup.controllers": "\n",
			"sys/fs/cgroup/unified/a/memory.max":       "1073741824\n",
			"sys/fs/cgroup/unified/a/memory.swap.max":  "1048576\n",
		}, gib + mib, "cgroup /a"},
		{"v1 unlimited", map[string]string{
			"proc/meminfo":     meminfo,
			"proc/self/cgroup": "5:cpu,cpuacct:/x\n4:memory:/x\n0::/\n",
			"sys/fs/cgroup/memory/x/memory.limit_in_bytes":       v1Max,
			"sys/fs/cgroup/memory/x/memory.memsw.limit_in_bytes": v1Max,
		}, 9 * gib, "this machine"},
		{"v1 memory and swap", map[string]string{
			"proc/meminfo":     meminfo,
			"proc/self/cgroup": "4:memory:/x/y\n",
			"sys/fs/cgroup/memory/x/y/memory.limit_in_bytes":       "1073741824\n",
			"sys/fs/cgroup/memory/x/y/memory.memsw.limit_in_bytes": "1610612736\n",
		}, 1536 * mib, "memory.memsw.limit_in_bytes of cgroup /x/y"},
		{"v1 mounted at the container's own cgroup", map[string]string{
			"proc/meminfo":     meminfo,
			"proc/self/cgroup": "4:memory:/docker/abc\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "268435456\n",
		}, 256*mib + gib, "memory.limit_in_bytes of cgroup /docker/abc, and the machine's swap"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			for name, body := range c.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			l := readMemLimit(root)
			if l.bytes != c.bytes || !strings.Contains(l.why, c.why) && !strings.Contains(l.who, c.why) {
				t.Fatalf("limit %d (%s: %s), want %d (%s)", l.bytes, l.who, l.why, c.bytes, c.why)
			}
			if c.bytes != 0 && (l.refuses(uintptr(c.bytes)) || !l.refuses(uintptr(c.bytes+1))) {
				t.Fatalf("the limit of %d bytes refuses the wrong sizes", c.bytes)
			}
		})
	}
}
