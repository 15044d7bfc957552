package xmppside

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them: every
// goroutine the component starts has an owner and stops on shutdown.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
