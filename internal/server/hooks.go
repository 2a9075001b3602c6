package server

import "github.com/sparc-network/sparc/internal/hooks"

// Hooks are what the server runs for metrics and traces (internal/hooks).
type Hooks = hooks.Hooks
