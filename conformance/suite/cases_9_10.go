package suite

import (
	"fmt"
	"time"
)

// Sections 9 (limits and performance) and 10 (auto-fragmentation).
//
// The CI set keeps every message at or under 1 MiB: 9.1/9.2 stop at 1 MiB
// and 9.3/9.4 fragment a 1 MiB message instead of a 4 MiB one. The full
// set (Options.Full) runs Autobahn's sizes up to 16 MiB.

const (
	kib = 1 << 10
	mib = 1 << 20
)

func sizeName(n int) string {
	if n >= mib {
		return fmt.Sprintf("%d MiB", n/mib)
	}
	return fmt.Sprintf("%d KiB", n/kib)
}

// limitTimeout scales the per-case bound with the bytes moved.
func limitTimeout(bytes int) time.Duration {
	return 10*time.Second + time.Duration(bytes/mib)*4*time.Second
}

// dataFrame is a whole message of the given type.
func dataFrame(text bool, p []byte) Frame {
	if text {
		return Text(p)
	}
	return Binary(p)
}

func want(text bool, p []byte) Want {
	if text {
		return WantText(p)
	}
	return WantBinary(p)
}

func kindName(text bool) string {
	if text {
		return "text"
	}
	return "binary"
}

func pattern(text bool) string {
	if text {
		return "BAsd7&jh23"
	}
	return "\xfe\xed\xfa\xce"
}

func init() {
	for _, text := range []bool{true, false} {
		text := text
		g := 1
		if !text {
			g = 2
		}
		for i, n := range []int{64 * kib, 256 * kib, 1 * mib, 4 * mib, 8 * mib, 16 * mib} {
			n := n
			Register(&Case{
				ID:      fmt.Sprintf("9.%d.%d", g, i+1),
				Desc:    fmt.Sprintf("Send a %s message of %s in one frame.", kindName(text), sizeName(n)),
				Expect:  "The message is echoed.",
				Full:    n > mib,
				Timeout: limitTimeout(2 * n),
				Run: func(t *T) {
					p := fill(pattern(text), n)
					t.Send(dataFrame(text, p))
					echoThenClose(t, want(text, p))
				},
			})
		}
		for i, fragSize := range []int{64, 256, 1 * kib, 4 * kib, 16 * kib, 64 * kib, 256 * kib, 1 * mib, 4 * mib} {
			fragSize := fragSize
			Register(&Case{
				ID:      fmt.Sprintf("9.%d.%d", g+2, i+1),
				Desc:    fmt.Sprintf("Send a %s message of 4 MiB (1 MiB in the CI set) in fragments of %d bytes.", kindName(text), fragSize),
				Expect:  "The reassembled message is echoed.",
				Full:    fragSize > mib,
				Timeout: limitTimeout(8 * mib),
				Run: func(t *T) {
					n := mib
					if t.Full() {
						n = 4 * mib
					}
					p := fill(pattern(text), n)
					t.Send(fragments(text, p, fragSize)...)
					echoThenClose(t, want(text, p))
				},
			})
		}
		for i, chop := range []int{64, 128, 256, 512, 1024, 2048} {
			chop := chop
			Register(&Case{
				ID:      fmt.Sprintf("9.%d.%d", g+4, i+1),
				Desc:    fmt.Sprintf("Send a %s message of 1 MiB in one frame, written in chops of %d bytes.", kindName(text), chop),
				Expect:  "The message is echoed.",
				Timeout: limitTimeout(4 * mib),
				Run: func(t *T) {
					p := fill(pattern(text), mib)
					t.SendChopped(chop, dataFrame(text, p))
					echoThenClose(t, want(text, p))
				},
			})
		}
		for i, n := range []int{0, 16, 64, 256, 1024, 4096} {
			n := n
			Register(&Case{
				ID:      fmt.Sprintf("9.%d.%d", g+6, i+1),
				Desc:    fmt.Sprintf("Send 1000 %s messages of %d bytes, each after the echo of the previous one.", kindName(text), n),
				Expect:  "Every message is echoed.",
				Timeout: 30 * time.Second,
				Run: func(t *T) {
					p := fill(pattern(text), n)
					for k := 0; k < 1000; k++ {
						t.Send(dataFrame(text, p))
						if !t.Expect(want(text, p)) {
							t.Logf("at message %d", k)
							return
						}
					}
					t.CloseNormal()
				},
			})
		}
	}
	Register(&Case{
		ID:     "10.1.1",
		Desc:   "Send a text message of 65536 bytes fragmented into frames of 1300 bytes.",
		Expect: "The reassembled message is echoed (the peer may fragment its echo as it likes).",
		Run: func(t *T) {
			p := fill("*", 65536)
			t.Send(fragments(true, p, 1300)...)
			echoThenClose(t, WantText(p))
		},
	})
}

// fragments splits p into frames of at most size bytes.
func fragments(text bool, p []byte, size int) []Frame {
	op := OpBinary
	if text {
		op = OpText
	}
	var fs []Frame
	for first := true; first || len(p) > 0; first = false {
		n := min(size, len(p))
		o := OpCont
		if first {
			o = op
		}
		fs = append(fs, Fragment(o, n == len(p), p[:n]))
		p = p[n:]
	}
	return fs
}
