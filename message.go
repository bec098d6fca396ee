package ws

import "context"

// RecvMessage receives the next whole message into a new byte slice and
// returns it with its type: the simple way to receive when messages may
// be of any size. It is bounded by Config.MaxMessageSize (32 MiB by
// default): a larger message fails the connection with close 1009
// (ErrMsgSize). The slice grows as bytes arrive, never to a length the
// peer merely declared. Pings that arrive meanwhile are answered. For
// zero-allocation receives into your own buffers, use Recv or RecvV.
//
// Errors: as Recv (CloseError once the peer's close arrived; ErrConnReset
// if the connection ends inside the message; ErrProto; ErrTimedOut or
// ErrCanceled, after which the connection stays usable only if no byte
// of the message had arrived); ErrMsgSize past Config.MaxMessageSize.
func (c *Conn) RecvMessage(ctx context.Context) ([]byte, Flags, error) {
	if err := c.enterRecv(ctx, "recvmessage"); err != nil {
		return nil, 0, err
	}
	defer c.leaveRecv()
	in := &c.in
	in.limit = in.maxMsg
	stop := c.armRead(ctx)
	p, f, err := c.recvGrow()
	c.disarmRead(stop)
	if err != nil {
		return nil, f, c.recvError(ctx, "recvmessage", err)
	}
	return p, f, nil
}

// recvGrow reads the next message into a slice grown as its bytes come.
func (c *Conn) recvGrow() ([]byte, Flags, error) {
	if err := c.openMessage(); err != nil {
		return nil, 0, err
	}
	f := c.msgFlags()
	in := &c.in
	size := 512
	if !in.msg.z && in.frame.fin {
		// An uncompressed last frame: its bytes already here tell.
		size = int(min(in.frame.left, uint64(max(in.w-in.r, 512))))
	}
	p := make([]byte, 0, size)
	for {
		if len(p) == cap(p) {
			p = append(p, 0)[:len(p)] // let append pick the growth
		}
		k, err := c.readPayload(p[len(p):cap(p)])
		p = p[:len(p)+k]
		if err == errEndOfMessage {
			return p, f, c.endMessage()
		}
		if err != nil {
			return nil, f, err
		}
		if in.msg.n > in.maxMsg {
			return nil, f, errTooBig
		}
	}
}
