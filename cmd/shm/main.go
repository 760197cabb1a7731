// Command shm shows what package shm does.
//
// Usage:
//
//	shm demo [-list] [-procs n] [-n count] [-segment name] [-rm] [name ...]
//	shm stress crash [-mode m] [-workers n] [-kills n] [-permits n] [-seed n] [-json]
//	shm ls [-a] [-json]
//	shm inspect [-n count] [-json] name
//	shm rm name ...
//	shm help [command]
//
// "shm demo" runs the scenarios of the article the package grew from, Python's
// multiprocessing.sharedctypes RawValue and Value done in Go, and then a race
// between several processes that shows which shared counters lose updates.
// "shm demo name" runs one scenario, "shm demo -list" lists them. "shm demo
// named", run twice, shows two unrelated programs sharing a counter through a
// named segment.
//
// "shm stress crash" is a crash campaign against shm.Mutex: worker processes
// update shared data under one lock while the command kills them with
// SIGKILL, a thousand times by default, and then it checks that no update
// was lost, none was left half done and the lock never hung. With -mode
// event, cond, barrier or semaphore it does the same to workers that wait
// on and notify that primitive, and checks that no survivor hangs.
//
// "shm ls", "shm inspect" and "shm rm" list the named segments in /dev/shm,
// show the objects in one (name, kind, type, lock and value), and remove
// them.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/shmgo/shm"
)

func main() {
	shm.Main() // in a child process: runs the registered target, then exits
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// A command is one subcommand of shm.
type command struct {
	name  string
	short string // one line for the usage message
	usage string // the full usage, for "shm help name"
	run   func(args []string, stdout, stderr io.Writer) int
}

// commands returns the subcommands; a function, so that "help" can list them.
func commands() []command {
	return []command{
		{name: "demo", short: "run the article's scenarios, a race between processes, a counter shared by name", usage: demoUsage, run: runDemo},
		{name: "stress", short: "kill lock holders again and again; check that nothing is lost", usage: stressUsage, run: runStress},
		{name: "ls", short: "list the named segments in /dev/shm", usage: lsUsage, run: runLs},
		{name: "inspect", short: "show every object of a named segment, with its value", usage: inspectUsage, run: runInspect},
		{name: "rm", short: "remove named segments", usage: rmUsage, run: runRm},
		{name: "help", short: "print this message, or a command's usage", usage: "usage: shm help [command]\n", run: runHelp},
	}
}

// run runs the command line args (without the program name) and returns the
// exit status: 0, 1 when a command failed, 2 for a bad command line.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "shm: unknown command %q; commands: %s\nRun 'shm help' for usage.\n", args[0], commandNames())
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, "shm shows what package github.com/shmgo/shm does: typed values, arrays and\nlocks shared by separate processes.\n\nUsage:\n\n\tshm <command> [arguments]\n\nThe commands are:\n\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "\t%-8s %s\n", c.name, c.short)
	}
	fmt.Fprint(w, "\nRun 'shm help <command>' for more about a command.\n")
}

func commandNames() string {
	s := ""
	for i, c := range commands() {
		if i > 0 {
			s += ", "
		}
		s += c.name
	}
	return s
}

func runHelp(args []string, stdout, stderr io.Writer) int {
	switch len(args) {
	case 0:
		usage(stdout)
		return 0
	case 1:
		for _, c := range commands() {
			if c.name == args[0] {
				fmt.Fprint(stdout, c.usage)
				return 0
			}
		}
		fmt.Fprintf(stderr, "shm help: unknown command %q; commands: %s\n", args[0], commandNames())
		return 2
	}
	fmt.Fprint(stderr, "usage: shm help [command]\n")
	return 2
}
