package main

import (
	"errors"
	"net"
	"sync"
	"time"
)

// proxy forwards the TCP connections made to its listener to a target
// address (the coordinator's, which changes when the coordinator restarts)
// and cuts them on demand:
//
//   - reset: every open connection is closed with a TCP reset, both ways;
//   - partition: reset, and every connection made until a deadline is reset
//     as soon as it is accepted (the peer sees its connection refused);
//   - stall: until a deadline no byte is forwarded either way, as on a network
//     that drops packets silently while TCP retransmits; the connections stay
//     open and carry on afterwards.
type proxy struct {
	ln net.Listener
	wg sync.WaitGroup

	mu          sync.Mutex
	target      string
	links       map[*link]struct{}
	refuseUntil time.Time
	stallUntil  time.Time
	closed      bool
	accepted    int
	refused     int
}

// link is one forwarded connection: the client's side and the target's.
type link struct{ client, server net.Conn }

// newProxy listens on a free loopback port and forwards to target.
func newProxy(target string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, target: target, links: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// addr is the address clients connect to.
func (p *proxy) addr() string { return p.ln.Addr().String() }

// setTarget points new connections at another address.
func (p *proxy) setTarget(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		p.mu.Lock()
		refuse := p.closed || time.Now().Before(p.refuseUntil)
		target := p.target
		if refuse {
			p.refused++
		} else {
			p.accepted++
		}
		p.mu.Unlock()
		if refuse {
			reset(c)
			continue
		}
		p.wg.Add(1)
		go p.forward(c, target)
	}
}

// forward dials the target for an accepted connection and copies both ways
// until either side ends; a connection the target refuses is reset.
func (p *proxy) forward(c net.Conn, target string) {
	defer p.wg.Done()
	s, err := net.DialTimeout("tcp", target, 2*time.Second)
	if err != nil {
		reset(c)
		return
	}
	l := &link{client: c, server: s}
	p.mu.Lock()
	if p.closed || time.Now().Before(p.refuseUntil) {
		p.mu.Unlock()
		reset(c)
		reset(s)
		return
	}
	p.links[l] = struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { p.pipe(s, c); done <- struct{}{} }()
	go func() { p.pipe(c, s); done <- struct{}{} }()
	<-done
	// One direction ended: end the connection both ways.
	_ = c.Close()
	_ = s.Close()
	<-done
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

// pipe copies src to dst, holding each chunk while the proxy is stalled.
func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.waitStall()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// waitStall returns once no stall is in force.
func (p *proxy) waitStall() {
	for {
		p.mu.Lock()
		d := time.Until(p.stallUntil)
		closed := p.closed
		p.mu.Unlock()
		if d <= 0 || closed {
			return
		}
		time.Sleep(min(d, 20*time.Millisecond))
	}
}

// reset closes every open connection with a TCP reset and returns how many
// there were.
func (p *proxy) reset() int {
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
		delete(p.links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		reset(l.client)
		reset(l.server)
	}
	return len(links)
}

// partition resets every connection and refuses new ones for d.
func (p *proxy) partition(d time.Duration) int {
	p.mu.Lock()
	if until := time.Now().Add(d); until.After(p.refuseUntil) {
		p.refuseUntil = until
	}
	p.mu.Unlock()
	return p.reset()
}

// stall holds every byte for d.
func (p *proxy) stall(d time.Duration) {
	p.mu.Lock()
	if until := time.Now().Add(d); until.After(p.stallUntil) {
		p.stallUntil = until
	}
	p.mu.Unlock()
}

// heal ends a partition or stall in force.
func (p *proxy) heal() {
	p.mu.Lock()
	p.refuseUntil, p.stallUntil = time.Time{}, time.Time{}
	p.mu.Unlock()
}

// close stops accepting, resets every connection and waits for the copies.
func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	_ = p.ln.Close()
	p.reset()
	p.wg.Wait()
}

// reset closes c with a TCP reset (SO_LINGER 0) rather than an orderly FIN.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
