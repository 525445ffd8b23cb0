package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// RegisterServer writes a server's membership key under its lease.
func (s *Store) RegisterServer(ctx context.Context, srv *api.Server, lease Lease) error {
	if _, err := s.cli.Put(ctx, s.keys.Server(srv.Name), encode(srv), clientv3.WithLease(clientv3.LeaseID(lease))); err != nil {
		return fmt.Errorf("registering server %s: %w", srv.Name, err)
	}
	return nil
}

// ListServers returns the live servers.
func (s *Store) ListServers(ctx context.Context) ([]*api.Server, error) {
	servers, _, err := listAll[api.Server](ctx, s, s.keys.Kind(KindServers))
	return servers, err
}

// ElectionLeader returns the value the election's leader campaigned with
// (its server name), or "" when there is no leader.
func (s *Store) ElectionLeader(ctx context.Context) (string, error) {
	resp, err := s.cli.Get(ctx, s.keys.Election()+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return "", fmt.Errorf("reading election leader: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return "", nil
	}
	return string(resp.Kvs[0].Value), nil
}

// RecordEtcdMember records the etcd member a server's embedded etcd is, so
// that force-leave can remove it once the server is gone.
func (s *Store) RecordEtcdMember(ctx context.Context, server string, id uint64) error {
	_, err := s.cli.Put(ctx, s.keys.EtcdMember(server), strconv.FormatUint(id, 16))
	return err
}

// ForceLeave removes a server: its membership and lease (which releases
// its evaluation claims and its place in the election) if it is still
// registered, and the etcd member its embedded etcd was, if it ran one. A
// server that is neither is not found. The member of a server that still
// answers is not removed: stop it first.
func (s *Store) ForceLeave(ctx context.Context, name string) (*api.ForceLeaveResult, error) {
	res := &api.ForceLeaveResult{Server: name}
	resp, err := s.cli.Get(ctx, s.keys.Server(name))
	if err != nil {
		return nil, fmt.Errorf("reading server %s: %w", name, err)
	}
	if len(resp.Kvs) > 0 {
		if lease := clientv3.LeaseID(resp.Kvs[0].Lease); lease != 0 {
			if _, err := s.cli.Revoke(ctx, lease); err != nil {
				return nil, fmt.Errorf("revoking the lease of server %s: %w", name, err)
			}
		}
		if _, err := s.cli.Delete(ctx, s.keys.Server(name)); err != nil {
			return nil, err
		}
		res.Registration = true
	}
	mresp, err := s.cli.Get(ctx, s.keys.EtcdMember(name))
	if err != nil {
		return nil, fmt.Errorf("reading the etcd member of server %s: %w", name, err)
	}
	if len(mresp.Kvs) > 0 {
		hexID := string(mresp.Kvs[0].Value)
		id, err := strconv.ParseUint(hexID, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("etcd member of server %s: %w", name, err)
		}
		members, err := s.cli.MemberList(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing etcd members: %w", err)
		}
		for _, m := range members.Members {
			if m.ID != id {
				continue
			}
			if len(members.Members) == 1 {
				return nil, fmt.Errorf("server %s runs the only etcd member: it cannot leave its own cluster", name)
			}
			if _, err := s.cli.MemberRemove(ctx, id); err != nil {
				return nil, fmt.Errorf("removing etcd member %s of server %s: %w", hexID, name, err)
			}
			res.EtcdMember = hexID
		}
		if _, err := s.cli.Delete(ctx, s.keys.EtcdMember(name)); err != nil {
			return nil, err
		}
	}
	if !res.Registration && res.EtcdMember == "" && len(mresp.Kvs) == 0 {
		return nil, ErrNotFound
	}
	return res, nil
}

// GetSchedulerConfig reads the scheduler configuration; defaults when unset.
func (s *Store) GetSchedulerConfig(ctx context.Context) (*api.SchedulerConfig, error) {
	c, _, err := getOne[api.SchedulerConfig](ctx, s, s.keys.SchedulerConfig())
	if errors.Is(err, ErrNotFound) {
		return &api.SchedulerConfig{Algorithm: "binpack"}, nil
	}
	return c, err
}

// PutSchedulerConfig writes the scheduler configuration.
func (s *Store) PutSchedulerConfig(ctx context.Context, c *api.SchedulerConfig) error {
	if _, err := s.cli.Put(ctx, s.keys.SchedulerConfig(), encode(c)); err != nil {
		return fmt.Errorf("writing scheduler configuration: %w", err)
	}
	return nil
}

// statusEndpoints are the endpoints to ask etcd's maintenance calls
// (Status) of. A client calling its member in process (the dev agent's)
// has no endpoints; its maintenance calls reach that member whatever they
// name.
func (s *Store) statusEndpoints() []string {
	if eps := s.cli.Endpoints(); len(eps) > 0 {
		return eps
	}
	return []string{""}
}

// DBSize is the size in bytes of etcd's database, as the first member
// that answers reports it.
func (s *Store) DBSize(ctx context.Context) (int64, error) {
	var last error = errors.New("no etcd endpoint")
	for _, ep := range s.statusEndpoints() {
		st, err := s.cli.Status(ctx, ep)
		if err == nil {
			return st.DbSize, nil
		}
		last = err
	}
	return 0, fmt.Errorf("reading etcd's status: %w", last)
}

// RequestGC asks the leader's garbage collector for a pass now (nomad
// system gc): it writes the request key, which the collector watches.
func (s *Store) RequestGC(ctx context.Context, now time.Time) error {
	if _, err := s.cli.Put(ctx, s.keys.GCRequest(), now.UTC().Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("requesting garbage collection: %w", err)
	}
	return nil
}

// Maintenance is what Maintain did.
type Maintenance struct {
	// DBSizeBefore and DBSizeAfter are etcd's database size on the first
	// member that answered, before and after.
	DBSizeBefore, DBSizeAfter int64
	// CompactedTo is the revision history was compacted to (0: none).
	CompactedTo int64
	// Disarmed lists the alarms that were cleared.
	Disarmed []string
	// MovedLeader says the leader handed its leadership to a member
	// already defragmented before its own defragmentation.
	MovedLeader bool
	// Defragmented counts the members defragmented (each once, however
	// many of the endpoints reach it).
	Defragmented int
}

// moveLeader asks the leader at ep to hand its leadership to member to.
// The request must reach the leader itself: it goes on a connection to
// that endpoint alone, with the client's credentials.
func (s *Store) moveLeader(ctx context.Context, ep string, to uint64) error {
	conn, err := s.cli.Dial(ep)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = pb.NewMaintenanceClient(conn).MoveLeader(ctx, &pb.MoveLeaderRequest{TargetID: to})
	return err
}

// Maintain compacts etcd's history up to its current revision, then
// defragments every member one at a time, and clears a NOSPACE alarm when
// asked: how an operator gets a full etcd writable again
// (docs/operations.md). Defragmenting blocks a member while it runs.
func (s *Store) Maintain(ctx context.Context, disarm bool) (*Maintenance, error) {
	out := &Maintenance{}
	var err error
	if out.DBSizeBefore, err = s.DBSize(ctx); err != nil {
		return nil, err
	}
	rev, err := s.Revision(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.cli.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil && !errors.Is(err, rpctypes.ErrCompacted) {
		return nil, fmt.Errorf("compacting etcd to revision %d: %w", rev, err)
	}
	out.CompactedTo = rev
	// Followers first, the leader last, once it handed its leadership to
	// a member already defragmented. Defragmenting blocks a member's
	// applies, and the leader renews no lease while its applies are
	// behind (etcd waits for its applied index first): defragmenting a
	// database of a gigabyte on a slow disk on the leader let every
	// node's lease run out at once.
	eps := s.statusEndpoints()
	// By member: two endpoints may reach the same member.
	done := map[uint64]bool{}
	for range eps {
		// Read again before each member: the leadership may have moved
		// while the one before was defragmented.
		type member struct {
			ep                string
			id                uint64
			learner, isLeader bool
		}
		var next *member
		var targets []uint64 // defragmented voters, to hand the leadership to
		seen := map[uint64]bool{}
		for _, ep := range eps {
			st, err := s.cli.Status(ctx, ep)
			if err != nil {
				return nil, fmt.Errorf("reading the status of etcd member %s: %w", ep, err)
			}
			m := &member{ep, st.Header.MemberId, st.IsLearner, st.Header.MemberId == st.Leader}
			if seen[m.id] {
				continue
			}
			seen[m.id] = true
			if done[m.id] {
				if !m.learner && !m.isLeader {
					targets = append(targets, m.id)
				}
				continue
			}
			if next == nil || next.isLeader && !m.isLeader {
				next = m
			}
		}
		if next == nil {
			break
		}
		if next.isLeader && len(targets) > 0 {
			mctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			err := s.moveLeader(mctx, next.ep, targets[0])
			cancel()
			if err != nil {
				slog.Warn("etcd maintenance: could not hand the leadership over before defragmenting the leader", "member", next.ep, "err", err)
			} else {
				out.MovedLeader = true
			}
		}
		if _, err := s.cli.Defragment(ctx, next.ep); err != nil {
			return nil, fmt.Errorf("defragmenting etcd member %s: %w", next.ep, err)
		}
		done[next.id] = true
		out.Defragmented++
	}
	if disarm {
		alarms, err := s.cli.AlarmList(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing etcd alarms: %w", err)
		}
		for _, a := range alarms.Alarms {
			if _, err := s.cli.AlarmDisarm(ctx, (*clientv3.AlarmMember)(a)); err != nil {
				return nil, fmt.Errorf("disarming etcd alarm %s: %w", a.Alarm, err)
			}
			out.Disarmed = append(out.Disarmed, a.Alarm.String())
		}
	}
	if out.DBSizeAfter, err = s.DBSize(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

// RaftPeer is a member of etcd's raft group: nomadic's consensus is
// etcd's.
type RaftPeer struct {
	ID      string // the member ID, in hex
	Name    string
	Address string // its first peer URL's host:port
	Leader  bool
	Voter   bool // not a learner
}

// RaftPeers lists etcd's members and which one leads, and the raft index,
// as the first member that answers sees them.
func (s *Store) RaftPeers(ctx context.Context) ([]RaftPeer, uint64, error) {
	members, err := s.cli.MemberList(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("listing etcd members: %w", err)
	}
	var leader, index uint64
	for _, ep := range s.statusEndpoints() {
		if st, err := s.cli.Status(ctx, ep); err == nil {
			leader, index = st.Leader, st.RaftIndex
			break
		}
	}
	out := make([]RaftPeer, 0, len(members.Members))
	for _, m := range members.Members {
		p := RaftPeer{ID: strconv.FormatUint(m.ID, 16), Name: m.Name, Leader: m.ID == leader, Voter: !m.IsLearner}
		if len(m.PeerURLs) > 0 {
			if u, err := url.Parse(m.PeerURLs[0]); err == nil {
				p.Address = u.Host
			}
		}
		if p.Name == "" {
			p.Name = "(unstarted)"
		}
		out = append(out, p)
	}
	return out, index, nil
}
