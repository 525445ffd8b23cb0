package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	gocni "github.com/containerd/go-cni"
	"github.com/nomadic-project/nomadic/pkg/api"
	"golang.org/x/sys/unix"
)

// Bridge networking: one network namespace per allocation, joined to the
// node's bridge through CNI (Debian's containernetworking-plugins), with
// the allocation's ports mapped from the node by the portmap plugin.

// netnsDir is where allocation network namespaces are mounted, as
// `ip netns` expects them.
const netnsDir = "/var/run/netns"

// cniPluginDirs are where the CNI plugins are looked for.
var cniPluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// bridgeConfList is the CNI configuration of bridge mode.
const bridgeConfList = `{
  "cniVersion": "1.0.0",
  "name": "nomadic",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "nomadic0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "172.26.64.0/20"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {
      "type": "portmap",
      "capabilities": {"portMappings": true},
      "snat": true
    }
  ]
}`

var (
	cniOnce sync.Once
	cniLib  gocni.CNI
	cniErr  error
)

func bridgeCNI() (gocni.CNI, error) {
	cniOnce.Do(func() {
		var lib gocni.CNI
		lib, cniErr = gocni.New(gocni.WithPluginDir(cniPluginDirs), gocni.WithMinNetworkCount(2))
		if cniErr != nil {
			return
		}
		if cniErr = lib.Load(gocni.WithLoNetwork, gocni.WithConfListBytes([]byte(bridgeConfList))); cniErr != nil {
			return
		}
		// Ports mapped to 127.0.0.1 need the kernel to route loopback
		// traffic to the bridge.
		_ = os.WriteFile("/proc/sys/net/ipv4/conf/all/route_localnet", []byte("1"), 0o644)
		cniLib = lib
	})
	return cniLib, cniErr
}

func netnsPath(allocID string) string { return filepath.Join(netnsDir, "nomadic-"+allocID) }

// createNetNS creates a network namespace and mounts it at path. The
// namespace is made on a thread of its own, which is then let go, so no
// goroutine of the agent ever runs in it.
func createNetNS(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is never unlocked: it ends with this goroutine.
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		self := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		errc <- unix.Mount(self, path, "none", unix.MS_BIND, "")
	}()
	if err := <-errc; err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("mounting network namespace: %w", err)
	}
	return nil
}

func deleteNetNS(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmounting %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func portMappings(alloc *api.Allocation) []gocni.PortMapping {
	var out []gocni.PortMapping
	for _, p := range alloc.Ports {
		to := p.To
		if to <= 0 {
			to = p.Value
		}
		for _, proto := range []string{"tcp", "udp"} {
			out = append(out, gocni.PortMapping{HostPort: int32(p.Value), ContainerPort: int32(to), Protocol: proto})
		}
	}
	return out
}

// setupBridge gives an allocation its network namespace on the bridge, or
// finds the one an earlier run of the agent made. It returns the
// namespace's path and the allocation's address.
func setupBridge(ctx context.Context, alloc *api.Allocation) (string, string, error) {
	lib, err := bridgeCNI()
	if err != nil {
		return "", "", fmt.Errorf("loading CNI plugins: %w", err)
	}
	path := netnsPath(alloc.ID)
	if _, err := os.Stat(path); err == nil {
		// Made before an agent restart: a fresh setup of the same
		// namespace is idempotent in the bridge and portmap plugins.
		_ = lib.Remove(ctx, alloc.ID, path, gocni.WithCapabilityPortMap(portMappings(alloc)))
	} else if err := createNetNS(path); err != nil {
		return "", "", err
	}
	res, err := lib.Setup(ctx, alloc.ID, path, gocni.WithCapabilityPortMap(portMappings(alloc)))
	if err != nil {
		_ = deleteNetNS(path)
		return "", "", fmt.Errorf("setting up the bridge network: %w", err)
	}
	addr := ""
	for name, iface := range res.Interfaces {
		if strings.HasPrefix(name, "eth") && len(iface.IPConfigs) > 0 {
			addr = iface.IPConfigs[0].IP.String()
		}
	}
	return path, addr, nil
}

// teardownBridge removes an allocation from the bridge and deletes its
// namespace.
func teardownBridge(ctx context.Context, alloc *api.Allocation) error {
	path := netnsPath(alloc.ID)
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	var errs []error
	if lib, err := bridgeCNI(); err == nil {
		errs = append(errs, lib.Remove(ctx, alloc.ID, path, gocni.WithCapabilityPortMap(portMappings(alloc))))
	}
	errs = append(errs, deleteNetNS(path))
	return errors.Join(errs...)
}
