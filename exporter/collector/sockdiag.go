package collector

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// Listening sockets through the kernel's sock_diag netlink interface, as `ss -l` reads them:
// the kernel filters by state, so the cost does not grow with the host's connections, while
// /proc/net/tcp prints every connection (and TIME_WAIT) each time it is read.

const (
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	tcpListenState   = 10 // TCP_LISTEN
	inetDiagReqLen   = 56 // sizeof(struct inet_diag_req_v2)
	inetDiagMsgLen   = 72 // sizeof(struct inet_diag_msg)
)

// sockDiagListeners lists the listening TCP sockets of the network namespace of the
// netlink socket fd.
func sockDiagListeners(fd int) ([]Listener, error) {
	var out []Listener
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		ls, err := sockDiagDump(fd, family)
		if err != nil {
			return nil, err
		}
		out = append(out, ls...)
	}
	return out, nil
}

func sockDiagDump(fd int, family uint8) ([]Listener, error) {
	req := make([]byte, unix.NLMSG_HDRLEN+inetDiagReqLen)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], sockDiagByFamily)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], 1)
	body := req[unix.NLMSG_HDRLEN:]
	body[0] = family
	body[1] = unix.IPPROTO_TCP
	binary.NativeEndian.PutUint32(body[4:], 1<<tcpListenState)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("sock_diag request: %w", err)
	}
	var out []Listener
	buf := make([]byte, 64*1024)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("sock_diag answer: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("sock_diag answer: %w", err)
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if errno := int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
						return nil, fmt.Errorf("sock_diag: %w", syscall.Errno(-errno))
					}
				}
				return out, nil
			}
			if len(m.Data) < inetDiagMsgLen {
				continue
			}
			d := m.Data
			port := int(binary.BigEndian.Uint16(d[4:6]))
			var ip net.IP
			if d[0] == unix.AF_INET {
				ip = net.IP(append([]byte(nil), d[8:12]...))
			} else {
				ip = net.IP(append([]byte(nil), d[8:24]...))
				if v4 := ip.To4(); v4 != nil && !ip.Equal(net.IPv6zero) {
					ip = v4
				}
			}
			out = append(out, Listener{Address: ip.String(), Port: port, Inode: uint64(binary.NativeEndian.Uint32(d[68:72]))})
		}
	}
}

// openSockDiag opens a sock_diag netlink socket in the network namespace nsPath
// (/proc/<pid>/ns/net): a netlink socket belongs to the namespace it was made in, so the
// thread enters the namespace only for the socket() call. It fails without CAP_SYS_ADMIN, or
// when nsPath is not a namespace (a fixture tree), and the caller reads /proc/<pid>/net/tcp.
func openSockDiag(nsPath string, ownNetns bool) (int, error) {
	if ownNetns {
		return unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	}
	target, err := os.Open(nsPath)
	if err != nil {
		return -1, err
	}
	defer target.Close()
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(target.Fd()), &st); err != nil || st.Type != unix.NSFS_MAGIC {
		return -1, fmt.Errorf("%s is not a network namespace", nsPath)
	}
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return -1, err
	}
	defer self.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return -1, fmt.Errorf("enter %s: %w", nsPath, err)
	}
	fd, sockErr := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// This thread is stuck in the other namespace: leave it locked so the runtime
		// ends it with this goroutine instead of reusing it.
		if sockErr == nil {
			unix.Close(fd)
		}
		return -1, fmt.Errorf("leave %s: %w", nsPath, err)
	}
	runtime.UnlockOSThread()
	return fd, sockErr
}
