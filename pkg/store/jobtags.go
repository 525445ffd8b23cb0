package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// JobTag is a name given to one version of a job (Nomad's version tags:
// nomad job tag apply). A version has at most one tag, a name is on at
// most one version of its job, and a tagged version is never garbage
// collected.
type JobTag struct {
	Name        string `json:"name"`
	Version     uint64 `json:"version"`
	Description string `json:"description,omitempty"`
	// TaggedTime is when the tag was applied, in Unix nanoseconds.
	TaggedTime int64 `json:"tagged_time"`
}

// MaxTagName bounds a tag's name.
const MaxTagName = 128

// ValidTagName says what is wrong with a tag name, nil when nothing.
func ValidTagName(name string) error {
	switch {
	case name == "":
		return errors.New("a version tag needs a name")
	case len(name) > MaxTagName:
		return fmt.Errorf("tag name %q is longer than %d bytes", name[:32]+"…", MaxTagName)
	case strings.ContainsRune(name, '/'):
		return fmt.Errorf("tag name %q has a '/'", name)
	case strings.ContainsFunc(name, unicode.IsControl):
		return fmt.Errorf("tag name %q has a control character", name)
	}
	return nil
}

// TagInUseError says a tag's name is already on another version.
type TagInUseError struct {
	Name    string
	Version uint64
}

func (e *TagInUseError) Error() string {
	return fmt.Sprintf("tag %q is already on version %d of the job: unset it first", e.Name, e.Version)
}

// ListJobTags reads a job's version tags.
func (s *Store) ListJobTags(ctx context.Context, ns, id string) ([]*JobTag, error) {
	tags, _, _, err := s.jobTags(ctx, ns, id)
	return tags, err
}

// jobTags reads a job's tags, the revision of each, and the revision they
// were read at.
func (s *Store) jobTags(ctx context.Context, ns, id string) ([]*JobTag, map[string]int64, int64, error) {
	resp, err := s.cli.Get(ctx, s.keys.JobTags(ns, id), clientv3.WithPrefix())
	if err != nil {
		return nil, nil, 0, fmt.Errorf("reading the version tags of job %q: %w", id, err)
	}
	var tags []*JobTag
	revs := map[string]int64{}
	for _, kv := range resp.Kvs {
		t, err := decodeKV[JobTag](kv)
		if err != nil {
			return nil, nil, 0, err
		}
		tags = append(tags, t)
		revs[t.Name] = kv.ModRevision
	}
	return tags, revs, resp.Header.Revision, nil
}

// tagsUnchanged holds while no tag of the job was written since rev.
func (s *Store) tagsUnchanged(ns, id string, rev int64) clientv3.Cmp {
	return clientv3.Compare(clientv3.ModRevision(s.keys.JobTags(ns, id)), "<", rev+1).WithPrefix()
}

// TagJobVersion applies tag t to its version of a job, which must exist
// (the current version or one in the history): a tag of the same name on
// that version gets t's description, another tag on it is replaced; a
// *TagInUseError says the name is on another version.
func (s *Store) TagJobVersion(ctx context.Context, ns, id string, t *JobTag) error {
	if err := ValidTagName(t.Name); err != nil {
		return err
	}
	for attempt := 0; attempt < maxRetries; attempt++ {
		// The version must still be there when the tag is written: the
		// current one while the job is unchanged, an older one while its
		// record exists (the collector deletes untagged ones).
		cur, jobRev, err := s.GetJob(ctx, ns, id)
		if err != nil {
			return err
		}
		exists := clientv3.Compare(clientv3.ModRevision(s.keys.Job(ns, id)), "=", jobRev)
		if t.Version != cur.Version {
			if _, err := s.GetJobVersion(ctx, ns, id, t.Version); errors.Is(err, ErrNotFound) {
				return fmt.Errorf("job %q has no version %d: %w", id, t.Version, ErrNotFound)
			} else if err != nil {
				return err
			}
			exists = clientv3.Compare(clientv3.CreateRevision(s.keys.JobVersion(ns, id, t.Version)), ">", 0)
		}
		tags, _, tagsRev, err := s.jobTags(ctx, ns, id)
		if err != nil {
			return err
		}
		// No tag applied meanwhile: two names applied to one version at
		// once must not both hold.
		cmps := []clientv3.Cmp{exists, s.tagsUnchanged(ns, id, tagsRev)}
		ops := []clientv3.Op{clientv3.OpPut(s.keys.JobTag(ns, id, t.Name), encode(t))}
		for _, o := range tags {
			switch {
			case o.Name == t.Name && o.Version != t.Version:
				return &TagInUseError{Name: o.Name, Version: o.Version}
			case o.Name != t.Name && o.Version == t.Version:
				ops = append(ops, clientv3.OpDelete(s.keys.JobTag(ns, id, o.Name)))
			}
		}
		resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
		if err != nil {
			return fmt.Errorf("tagging version %d of job %q: %w", t.Version, id, err)
		}
		if resp.Succeeded {
			return nil
		}
	}
	return fmt.Errorf("tagging version %d of job %q: %w", t.Version, id, ErrConflict)
}

// UntagJobVersion removes a job's version tag; ErrNotFound when the job
// has no tag of that name.
func (s *Store) UntagJobVersion(ctx context.Context, ns, id, name string) error {
	resp, err := s.cli.Delete(ctx, s.keys.JobTag(ns, id, name))
	if err != nil {
		return fmt.Errorf("removing tag %q of job %q: %w", name, id, err)
	}
	if resp.Deleted == 0 {
		return fmt.Errorf("job %q has no tag %q: %w", id, name, ErrNotFound)
	}
	return nil
}
