package auth_test

import (
	"errors"
	"os"
	"testing"

	"github.com/sparc-network/sparc/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func errorsAs(err error, target any) bool { return errors.As(err, target) }
