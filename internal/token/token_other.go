//go:build !linux

package token

import (
	"errors"
	"fmt"
	"os"
)

var errUnsupported = fmt.Errorf("liveness tokens are not available on this system: %w", errors.ErrUnsupported)

// Table is a family's token table.
type Table struct{}

func Create() (*Table, error)                      { return nil, errUnsupported }
func OpenUser() (*Table, error)                    { return nil, errUnsupported }
func UserPath() string                             { return "" }
func (t *Table) User() bool                        { return false }
func (t *Table) Close() error                      { return errUnsupported }
func (t *Table) Holder(s int) (uint64, bool)       { return 0, false }
func Open(f *os.File) (*Table, error)              { return nil, errUnsupported }
func (t *Table) File() *os.File                    { return nil }
func (t *Table) Acquire() (uint64, error)          { return 0, errUnsupported }
func (t *Table) Alive(tok uint64) (bool, error)    { return false, errUnsupported }
func (t *Table) Pid(tok uint64) (int, bool)        { return 0, false }
func (t *Table) Age(s int, n uint64) (bool, error) { return false, errUnsupported }
