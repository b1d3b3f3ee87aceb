package realengine

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// processSampler records the command line of every process this machine runs while a test
// runs: a secret on a command line would show in a process list on the hosts (they share
// this kernel). It hears each exec from the kernel's process connector (netlink, root) and
// reads that process's command line at once, so that even a process of a few milliseconds
// is seen, without polling every process (a 50 ms poll of /proc was two thirds of the
// real-engine tests' own CPU and still missed short processes). Where the connector is not
// available it polls /proc every 50 ms.
type processSampler struct {
	mu    sync.Mutex
	lines map[string]bool
	done  chan struct{}
	wg    sync.WaitGroup
	fd    int // the connector socket, or -1 when polling
}

func startProcessSampler() *processSampler {
	p := &processSampler{lines: map[string]bool{}, done: make(chan struct{}), fd: -1}
	p.readAll() // what runs already
	fd, err := procConnector()
	p.wg.Add(1)
	if err != nil {
		go p.poll()
		return p
	}
	p.fd = fd
	go p.listen()
	return p
}

func (p *processSampler) record(pid string) {
	data, err := os.ReadFile("/proc/" + pid + "/cmdline")
	if err != nil || len(data) == 0 {
		return
	}
	line := string(bytes.ReplaceAll(data, []byte{0}, []byte{' '}))
	p.mu.Lock()
	p.lines[line] = true
	p.mu.Unlock()
}

func (p *processSampler) readAll() {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		p.record(filepath.Base(d))
	}
}

func (p *processSampler) poll() {
	defer p.wg.Done()
	for {
		p.readAll()
		select {
		case <-p.done:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// The process connector's constants (linux/connector.h, linux/cn_proc.h).
const (
	cnIdxProc          = 1
	cnValProc          = 1
	procCnMcastListen  = 1
	procEventExec      = 2
	nlmsgHdrLen        = 16
	cnMsgHdrLen        = 20
	procEventHeaderLen = 16 // what, cpu, timestamp
)

// procConnector subscribes to the kernel's process events.
func procConnector() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_CONNECTOR)
	if err != nil {
		return -1, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc, Pid: uint32(os.Getpid())}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	msg := make([]byte, nlmsgHdrLen+cnMsgHdrLen+4)
	le := binary.LittleEndian
	le.PutUint32(msg[0:], uint32(len(msg)))
	le.PutUint16(msg[4:], unix.NLMSG_DONE)
	le.PutUint32(msg[12:], uint32(os.Getpid()))
	le.PutUint32(msg[16:], cnIdxProc)
	le.PutUint32(msg[20:], cnValProc)
	le.PutUint16(msg[32:], 4)
	le.PutUint32(msg[36:], procCnMcastListen)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	// A read times out now and then so that stop is noticed.
	tv := unix.Timeval{Usec: 200_000}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func (p *processSampler) listen() {
	defer p.wg.Done()
	defer unix.Close(p.fd)
	buf := make([]byte, 64<<10)
	le := binary.LittleEndian
	for {
		select {
		case <-p.done:
			return
		default:
		}
		n, _, err := unix.Recvfrom(p.fd, buf, 0)
		if err != nil {
			if err == unix.ENOBUFS { // events were dropped: catch up on what runs now
				p.readAll()
			}
			continue
		}
		for off := 0; off+nlmsgHdrLen <= n; {
			size := int(le.Uint32(buf[off:]))
			if size < nlmsgHdrLen || off+size > n {
				break
			}
			ev := buf[off+nlmsgHdrLen+cnMsgHdrLen : off+size]
			if len(ev) >= procEventHeaderLen+8 && le.Uint32(ev) == procEventExec {
				p.record(strconv.Itoa(int(le.Uint32(ev[procEventHeaderLen+4:])))) // the thread group's pid
			}
			off += (size + 3) &^ 3
		}
	}
}

func (p *processSampler) stop() {
	select {
	case <-p.done:
	default:
		close(p.done)
	}
	p.wg.Wait()
}

func (p *processSampler) text() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b bytes.Buffer
	for l := range p.lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// TestProcessSamplerSeesAShortProcess: a process that lives for a few milliseconds is seen
// with its arguments (a sampler that missed it would pass every secret check).
func TestProcessSamplerSeesAShortProcess(t *testing.T) {
	p := startProcessSampler()
	marker := "xgen-sampler-marker-" + strconv.Itoa(os.Getpid())
	for i := 0; i < 5; i++ {
		_ = execTrue(marker)
	}
	time.Sleep(300 * time.Millisecond)
	p.stop()
	if !bytes.Contains(p.text(), []byte(marker)) {
		t.Fatalf("the sampler (connector: %v) did not see a short process with %s", p.fd >= 0, marker)
	}
	if p.fd < 0 {
		t.Log("the process connector is not available here: polled /proc")
	}
}

func execTrue(arg string) error { return exec.Command("/bin/true", arg).Run() }
