package sandbox

import (
	"errors"
	"testing"
)

// TestCheckLoopbackAccepts covers the accepted side of Start's address
// check without listening anywhere but 127.0.0.1 (which the external
// tests do).
func TestCheckLoopbackAccepts(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "127.8.9.10:8080", "localhost:0", "LocalHost:9", "[::1]:0", "[::ffff:127.0.0.1]:0"} {
		if err := checkLoopback(addr); err != nil {
			t.Errorf("checkLoopback(%q) = %v, want nil", addr, err)
		}
	}
	for _, addr := range []string{"128.0.0.1:0", "[::2]:0", "[fe80::1%lo]:0", "localhost", "127.0.0.1:0:0"} {
		if err := checkLoopback(addr); !errors.Is(err, ErrNotLoopback) {
			t.Errorf("checkLoopback(%q) = %v, want ErrNotLoopback", addr, err)
		}
	}
}
