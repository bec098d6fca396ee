package main

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// upgradeStatus sends a WebSocket upgrade request with the given Host to
// addr and returns the status line of the answer.
func upgradeStatus(t *testing.T, addr, host string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET / HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"Origin: http://" + host + "\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("no answer for Host %s: %v", host, err)
	}
	return strings.TrimSpace(line)
}

// TestServeHosts: on loopback, ws serve refuses a DNS-rebinding Host (a
// page of evil.example whose name now points at 127.0.0.1) with 403, and
// serves it once named with --host.
func TestServeHosts(t *testing.T) {
	s := serve(t)
	port := s.addr[strings.LastIndex(s.addr, ":")+1:]
	if got := upgradeStatus(t, s.addr, "evil.example:"+port); !strings.Contains(got, " 403 ") {
		t.Fatalf("rebinding Host: %q, want 403", got)
	}
	if got := upgradeStatus(t, s.addr, "localhost:"+port); !strings.Contains(got, " 101 ") {
		t.Fatalf("localhost: %q, want 101", got)
	}
	named := serve(t, "--host", "evil.example")
	port = named.addr[strings.LastIndex(named.addr, ":")+1:]
	if got := upgradeStatus(t, named.addr, "evil.example:"+port); !strings.Contains(got, " 101 ") {
		t.Fatalf("--host evil.example: %q, want 101", got)
	}
	if got := upgradeStatus(t, named.addr, "localhost:"+port); !strings.Contains(got, " 403 ") {
		t.Fatalf("--host evil.example, Host localhost: %q, want 403", got)
	}
}
