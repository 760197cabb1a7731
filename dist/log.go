package dist

import "go.uber.org/zap"

// nopLogger keeps the etcd client quiet: its errors reach the caller as
// returned errors.
var nopLogger = zap.NewNop()
