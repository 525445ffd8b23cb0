package api

import (
	"time"
)

// Defaults applied by Canonicalize, as in Nomad.
const (
	DefaultPriority    = 50
	DefaultCPU         = 100
	DefaultMemoryMB    = 300
	DefaultDiskMB      = 300
	DefaultKillTimeout = Duration(5 * time.Second)
	DefaultNodePool    = "default"
)

// DefaultUpdate is the update strategy fields take when a job's update
// block leaves them out.
func DefaultUpdate() *UpdateStrategy {
	return &UpdateStrategy{
		MaxParallel: 1, HealthCheck: "checks", MinHealthyTime: Duration(10 * time.Second),
		HealthyDeadline: Duration(5 * time.Minute), ProgressDeadline: Duration(10 * time.Minute),
	}
}

// DefaultMigrate is the migrate strategy of service jobs.
func DefaultMigrate() *MigrateStrategy {
	return &MigrateStrategy{MaxParallel: 1, HealthCheck: "checks", MinHealthyTime: Duration(10 * time.Second), HealthyDeadline: Duration(5 * time.Minute)}
}

// DefaultRestart is the restart policy of a job type.
func DefaultRestart(jobType string) *RestartPolicy {
	if jobType == JobTypeBatch || jobType == JobTypeSysbatch {
		return &RestartPolicy{Attempts: 3, Interval: Duration(24 * time.Hour), Delay: Duration(15 * time.Second), Mode: "fail"}
	}
	return &RestartPolicy{Attempts: 2, Interval: Duration(30 * time.Minute), Delay: Duration(15 * time.Second), Mode: "fail"}
}

// DefaultReschedule is the reschedule policy of a job type; system jobs
// are not rescheduled (nil).
func DefaultReschedule(jobType string) *ReschedulePolicy {
	switch jobType {
	case JobTypeBatch:
		return &ReschedulePolicy{Attempts: 1, Interval: Duration(24 * time.Hour), Delay: Duration(5 * time.Second), DelayFunction: "constant"}
	case JobTypeService:
		return &ReschedulePolicy{Delay: Duration(30 * time.Second), DelayFunction: "exponential", MaxDelay: Duration(time.Hour), Unlimited: true}
	}
	return nil
}

// UnmarshalJSON starts from DefaultUpdate, so fields a submitter leaves
// out take their defaults.
func (u *UpdateStrategy) UnmarshalJSON(b []byte) error {
	type plain UpdateStrategy
	p := plain(*DefaultUpdate())
	if err := strictUnmarshal(b, &p); err != nil {
		return err
	}
	*u = UpdateStrategy(p)
	return nil
}

// UnmarshalJSON starts from DefaultMigrate.
func (m *MigrateStrategy) UnmarshalJSON(b []byte) error {
	type plain MigrateStrategy
	p := plain(*DefaultMigrate())
	if err := strictUnmarshal(b, &p); err != nil {
		return err
	}
	*m = MigrateStrategy(p)
	return nil
}

// Canonicalize fills in the defaults of every field the submitter left
// empty. It is the one place where defaults are applied, so the servers and
// `nctl job inspect` show the same thing. Group-level update, migrate and
// reschedule blocks take the job's values for what they leave out.
func (j *Job) Canonicalize() {
	if j.Name == "" {
		j.Name = j.ID
	}
	if j.Namespace == "" {
		j.Namespace = DefaultNamespace
	}
	if j.Type == "" {
		j.Type = JobTypeService
	}
	if j.Priority == 0 {
		j.Priority = DefaultPriority
	}
	if j.NodePool == "" {
		j.NodePool = DefaultNodePool
	}
	if len(j.Datacenters) == 0 {
		j.Datacenters = []string{"*"}
	}
	if j.Periodic != nil && len(j.Periodic.Crons) > 0 && j.Periodic.TimeZone == "" {
		j.Periodic.TimeZone = "UTC"
	}
	for _, g := range j.Groups {
		if g == nil {
			continue
		}
		j.canonicalizeGroup(g)
	}
}

func (j *Job) canonicalizeGroup(g *TaskGroup) {
	if j.Type == JobTypeService || j.Type == JobTypeBatch || j.Type == "" {
		// Count is meaningless for system jobs (one per node).
	}
	if g.Update == nil && j.Update != nil && j.Type == JobTypeService {
		u := *j.Update
		g.Update = &u
	}
	if g.Migrate == nil && j.Type == JobTypeService {
		if j.Migrate != nil {
			m := *j.Migrate
			g.Migrate = &m
		} else {
			g.Migrate = DefaultMigrate()
		}
	}
	if g.Reschedule == nil {
		if j.Reschedule != nil {
			r := *j.Reschedule
			g.Reschedule = &r
		} else {
			g.Reschedule = DefaultReschedule(j.Type)
		}
	}
	if r := g.Reschedule; r != nil {
		if r.DelayFunction == "" {
			r.DelayFunction = "constant"
		}
		if r.Delay == 0 {
			r.Delay = Duration(30 * time.Second)
		}
	}
	if g.Restart == nil {
		g.Restart = DefaultRestart(j.Type)
	} else {
		def := DefaultRestart(j.Type)
		if g.Restart.Mode == "" {
			g.Restart.Mode = def.Mode
		}
		if g.Restart.Interval == 0 {
			g.Restart.Interval = def.Interval
		}
		if g.Restart.Delay == 0 {
			g.Restart.Delay = def.Delay
		}
	}
	if g.EphemeralDisk == nil {
		g.EphemeralDisk = &EphemeralDisk{SizeMB: DefaultDiskMB}
	} else if g.EphemeralDisk.SizeMB == 0 {
		g.EphemeralDisk.SizeMB = DefaultDiskMB
	}
	if g.Network != nil && (g.Network.Mode == "" || g.Network.Mode == "host") {
		g.Network.Mode = "host"
		if DockerPortsMapped(g) {
			// As in Nomad, where a docker task of a host-mode group is
			// on Docker's default network: its ports reach the
			// container's own port (to) through a bridge. A task that
			// wants the node's network says network_mode = "host".
			g.Network.Mode = "bridge"
		}
	}
	for _, s := range g.Services {
		canonicalizeService(s, j, g, "")
	}
	for _, t := range g.Tasks {
		if t == nil {
			continue
		}
		if r := t.Restart; r != nil {
			// A task's own restart block takes what it leaves out from its
			// group's (the job file decoder merges them already).
			if r.Mode == "" {
				r.Mode = g.Restart.Mode
			}
			if r.Interval == 0 {
				r.Interval = g.Restart.Interval
			}
			if r.Delay == 0 {
				r.Delay = g.Restart.Delay
			}
		}
		if t.Resources == nil {
			t.Resources = &Resources{}
		}
		if t.Resources.CPU == 0 && t.Resources.Cores == 0 {
			t.Resources.CPU = DefaultCPU
		}
		if t.Resources.MemoryMB == 0 {
			t.Resources.MemoryMB = DefaultMemoryMB
		}
		if t.KillTimeout == 0 {
			t.KillTimeout = DefaultKillTimeout
		}
		if t.Logs == nil {
			t.Logs = &LogConfig{MaxFiles: 10, MaxFileSizeMB: 10}
		}
		for _, tpl := range t.Templates {
			if tpl.ChangeMode == "" {
				tpl.ChangeMode = "restart"
			}
		}
		for _, s := range t.Services {
			canonicalizeService(s, j, g, t.Name)
		}
	}
}

func canonicalizeService(s *Service, j *Job, g *TaskGroup, task string) {
	if s == nil {
		return
	}
	if s.Name == "" {
		s.Name = j.ID + "-" + g.Name
		if task != "" {
			s.Name += "-" + task
		}
	}
	if s.Provider == "" || s.Provider == "nomadic" {
		s.Provider = "nomad"
	}
	if s.AddressMode == "" {
		s.AddressMode = "auto"
	}
	s.TaskName = task
	for _, c := range s.Checks {
		if c.Type == "http" && c.Method == "" {
			c.Method = "GET"
		}
	}
}

// DockerPortsMapped reports whether a group's docker or podman tasks map
// ports to other ports inside their containers (port "db" { to = 6379 })
// and none asks for the host's network: Nomad runs such tasks on Docker's
// bridge network, where the mapping happens, so a group that names no
// network mode gets bridge mode here.
func DockerPortsMapped(g *TaskGroup) bool {
	if g.Network == nil {
		return false
	}
	mapped := false
	for _, p := range g.Network.Ports {
		if p.To > 0 && p.To != p.Static {
			mapped = true
		}
	}
	if !mapped {
		return false
	}
	docker := false
	for _, t := range g.Tasks {
		if t == nil || (t.Driver != "docker" && t.Driver != "podman") {
			continue
		}
		if m, _ := t.Config["network_mode"].(string); m == "host" || m == "none" {
			return false
		}
		docker = true
	}
	return docker
}
