// Package wsnats joins a ws.Hub to a NATS subject, so that several
// servers share one broadcast: a message published on any node reaches
// the clients of every node.
//
// Each node publishes its messages to its own hub at once and to the
// subject with a header naming the node; every node subscribes to the
// subject and republishes to its hub the messages of the other nodes, so
// that no client gets a message twice. NATS core keeps the order of the
// messages of one publishing connection, and the subscription delivers
// them one at a time: each node's clients receive the messages of one
// publisher (one goroutine calling Publish on one node) in order.
//
// What is lost: NATS core is at-most-once. While a node is disconnected
// from NATS (nats.go reconnects by itself, per the nats.Conn's options),
// the messages the other nodes publish do not reach its clients, and
// are not replayed. The messages it publishes meanwhile reach its own
// clients, and are buffered by nats.go (nats.ReconnectBufSize, 8 MiB by
// default) and sent after the reconnection; beyond that buffer Publish
// returns an error and they reach no other node. A message in flight
// when the NATS server goes away may be lost. A subscriber that cannot
// keep up with the subject is a NATS slow consumer and loses messages
// (Stats and the nats.Conn's error handler say so). Within a node, the
// hub's own slow-consumer policy applies.
package wsnats

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync/atomic"

	"github.com/dillgo/ws"
	"github.com/nats-io/nats.go"
)

// The headers of a bridged message.
const (
	hdrNode = "Ws-Node" // the publishing node
	hdrType = "Ws-Type" // "text" or "binary"
)

// Bridge is one node's link between its hub and a NATS subject. Its
// methods are safe for concurrent use.
type Bridge struct {
	hub     *ws.Hub
	nc      *nats.Conn
	subject string
	node    string
	sub     *nats.Subscription

	published, received, failed atomic.Uint64
}

// Stats are a Bridge's counters.
type Stats struct {
	Published uint64 // messages this node published (to its hub and the subject)
	Received  uint64 // messages of other nodes republished to the hub
	Failed    uint64 // messages not sent to NATS (Publish returned an error) or not republished
	Dropped   uint64 // messages the NATS client dropped as a slow consumer
}

// New joins hub to subject over nc, which stays the caller's (Close
// does not close it; give it nats.MaxReconnects(-1) to reconnect
// forever). It subscribes at once and returns after the subscription
// reached the server. Errors: those of nc.Subscribe and nc.Flush.
func New(nc *nats.Conn, hub *ws.Hub, subject string) (*Bridge, error) {
	if nc == nil || hub == nil || subject == "" {
		return nil, errors.New("wsnats: nil connection or hub, or empty subject")
	}
	var id [8]byte
	rand.Read(id[:])
	b := &Bridge{hub: hub, nc: nc, subject: subject, node: hex.EncodeToString(id[:])}
	sub, err := nc.Subscribe(subject, b.deliver)
	if err != nil {
		return nil, err
	}
	sub.SetPendingLimits(-1, 256<<20) // bounded by bytes, not count
	b.sub = sub
	if err := nc.Flush(); err != nil {
		sub.Unsubscribe()
		return nil, err
	}
	return b, nil
}

// Node returns this node's identifier, carried in the Ws-Node header.
func (b *Bridge) Node() string { return b.node }

// Publish sends p, a message of the type in flags, to the clients of
// every node: to this node's hub at once (all but skip, as
// ws.Hub.Publish), and to the subject for the others. It does not wait
// for the network. Errors: those of ws.NewPreparedMessage and
// ws.Hub.Publish (then nothing was sent to NATS), and of nats.Conn's
// PublishMsg (the local clients got the message, the other nodes not).
func (b *Bridge) Publish(ctx context.Context, flags ws.Flags, p []byte, skip *ws.Conn) error {
	m, err := ws.NewPreparedMessage(flags, p)
	if err != nil {
		return err
	}
	if err := b.hub.Publish(ctx, m, skip); err != nil {
		return err
	}
	b.published.Add(1)
	typ := "binary"
	if flags&ws.Text != 0 {
		typ = "text"
	}
	msg := &nats.Msg{Subject: b.subject, Data: p, Header: nats.Header{hdrNode: {b.node}, hdrType: {typ}}}
	if err := b.nc.PublishMsg(msg); err != nil {
		b.failed.Add(1)
		return err
	}
	return nil
}

// deliver republishes another node's message to the hub. It runs on the
// subscription's goroutine, one message at a time.
func (b *Bridge) deliver(msg *nats.Msg) {
	if msg.Header.Get(hdrNode) == b.node {
		return // ours: the local clients have it already
	}
	flags := ws.Binary
	if msg.Header.Get(hdrType) == "text" {
		flags = ws.Text
	}
	m, err := ws.NewPreparedMessage(flags, msg.Data)
	if err == nil {
		err = b.hub.Publish(context.Background(), m, nil)
	}
	if err != nil {
		b.failed.Add(1)
		return
	}
	b.received.Add(1)
}

// Stats returns the bridge's counters.
func (b *Bridge) Stats() Stats {
	d, _ := b.sub.Dropped()
	return Stats{Published: b.published.Load(), Received: b.received.Load(), Failed: b.failed.Load(), Dropped: uint64(max(d, 0))}
}

// Close unsubscribes: the other nodes' messages stop reaching the hub (one
// being delivered as Close runs may still reach it). The hub and the NATS
// connection stay open.
func (b *Bridge) Close() error {
	err := b.sub.Unsubscribe()
	if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrBadSubscription) {
		return nil
	}
	return err
}
