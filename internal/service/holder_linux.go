package service

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// portHolder names the process that listens on addr's TCP port, as
// "pid 1234 (accounts)", or returns "" when this machine does not tell: the
// socket is matched in /proc/net/tcp and tcp6 by its inode, and the inode
// among the descriptors of /proc/PID/fd, which shows only the processes
// this one may inspect (its own user's, or all for root).
func portHolder(addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	port, err := strconv.Atoi(p)
	if err != nil || port == 0 {
		return ""
	}
	inodes := listeningInodes("/proc/net/tcp", port)
	for k := range listeningInodes("/proc/net/tcp6", port) {
		inodes[k] = true
	}
	if len(inodes) == 0 {
		return ""
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		link, err := os.Readlink(fd)
		inode, ok := strings.CutPrefix(link, "socket:[")
		if err != nil || !ok || !inodes[strings.TrimSuffix(inode, "]")] {
			continue
		}
		pid := strings.Split(fd, "/")[2]
		comm, _ := os.ReadFile("/proc/" + pid + "/comm")
		return fmt.Sprintf("pid %s (%s)", pid, strings.TrimSpace(string(comm)))
	}
	return ""
}

// listeningInodes returns the inodes of the sockets of table (the format
// of /proc/net/tcp) that listen on port.
func listeningInodes(table string, port int) map[string]bool {
	inodes := map[string]bool{}
	f, err := os.Open(table)
	if err != nil {
		return inodes
	}
	defer func() { _ = f.Close() }() // read only
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		const listen = "0A"
		if len(fields) < 10 || fields[3] != listen {
			continue
		}
		_, hexPort, _ := strings.Cut(fields[1], ":")
		if n, err := strconv.ParseUint(hexPort, 16, 16); err == nil && int(n) == port {
			inodes[fields[9]] = true
		}
	}
	return inodes
}
