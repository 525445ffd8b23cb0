package catalog_test

import (
	"slices"
	"testing"

	"github.com/nomadic-project/nomadic/pkg/driver"
	"github.com/nomadic-project/nomadic/pkg/driver/catalog"
	"github.com/nomadic-project/nomadic/pkg/driver/containerd"
	"github.com/nomadic-project/nomadic/pkg/driver/mock"
	"github.com/nomadic-project/nomadic/pkg/driver/rawexec"
)

// The test may link the drivers; the package may not.
func TestEveryShippedDriverIsKnownUnderItsOwnName(t *testing.T) {
	ctr := &containerd.Driver{}
	drivers := []driver.Driver{&rawexec.Driver{}, ctr, &containerd.ExecDriver{Driver: ctr}, &containerd.ExecDriver{Driver: ctr, As: containerd.Exec2Name},
		&containerd.DockerDriver{Driver: ctr}, &containerd.DockerDriver{Driver: ctr, As: containerd.PodmanName}, &mock.Driver{}}
	var names []string
	for _, d := range drivers {
		names = append(names, d.Name())
	}
	slices.Sort(names)
	if got := catalog.Names(); !slices.Equal(got, names) {
		t.Fatalf("catalog knows %v, the drivers are %v", got, names)
	}
}
