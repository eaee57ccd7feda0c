package store

import (
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// bucketLogs holds the output of command trials' attempts:
//
//	logs/<sweep ID>   "<trial ID>/<attempt, 10 digits>" → flatsweep.v1.CommandLog (protobuf)
var bucketLogs = []byte("logs")

// logKey is the key of one attempt's log: a trial's attempts are adjacent
// and in order.
func logKey(trialID string, attempt int32) []byte {
	return fmt.Appendf(nil, "%s/%010d", trialID, attempt)
}

// UpdateTrialWithLog is UpdateTrial that also stores log, the output of the
// attempt the update ends, in the same transaction: both are stored or
// neither is. A nil log stores nothing besides the trial.
func (s *Store) UpdateTrialWithLog(sweepID, trialID string, fn func(*pb.Trial) error, log *pb.CommandLog, after ...func(*pb.Trial)) (*pb.Trial, error) {
	if log == nil {
		return s.UpdateTrial(sweepID, trialID, fn, after...)
	}
	var t *pb.Trial
	err := s.write(func(tx *bolt.Tx) error {
		var err error
		if t, err = getTrial(tx, sweepID, trialID); err != nil {
			return err
		}
		if err := fn(t); err != nil {
			return err
		}
		// fn may complete the log (its attempt number): it is encoded
		// after fn, and both are written only once every check passed.
		tb, err := trialBucket(tx, sweepID)
		if err != nil {
			return err
		}
		if err := putLog(tx, sweepID, trialID, log); err != nil {
			return err
		}
		return putProto(tb, trialID, t)
	}, func(err error) {
		if err == nil {
			for _, f := range after {
				f(t)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Logs returns the stored logs of a trial's attempts in attempt order, or
// only that of attempt when it is > 0. A trial without stored logs has none
// (and no error).
func (s *Store) Logs(sweepID, trialID string, attempt int32) ([]*pb.CommandLog, error) {
	var out []*pb.CommandLog
	err := s.view("read logs of "+sweepID+"/"+trialID, func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketLogs)
		if root == nil {
			return nil
		}
		lb := root.Bucket([]byte(sweepID))
		if lb == nil {
			return nil
		}
		decode := func(k, v []byte) error {
			l := new(pb.CommandLog)
			if err := proto.Unmarshal(v, l); err != nil {
				return fmt.Errorf("decode log %s: %w", k, err)
			}
			out = append(out, l)
			return nil
		}
		if attempt > 0 {
			k := logKey(trialID, attempt)
			if v := lb.Get(k); v != nil {
				return decode(k, v)
			}
			return nil
		}
		prefix := []byte(trialID + "/")
		c := lb.Cursor()
		for k, v := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, v = c.Next() {
			if err := decode(k, v); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// PutAttemptLog stores the log of an attempt that ended without one (a
// cancel, a lost lease), in one transaction, if check accepts the trial
// (the attempt's record) and no log of that attempt is stored yet; it
// reports whether it stored it.
func (s *Store) PutAttemptLog(sweepID, trialID string, log *pb.CommandLog, check func(*pb.Trial) error) (bool, error) {
	stored := false
	err := s.write(func(tx *bolt.Tx) error {
		t, err := getTrial(tx, sweepID, trialID)
		if err != nil {
			return err
		}
		if err := check(t); err != nil {
			return err
		}
		if root := tx.Bucket(bucketLogs); root != nil {
			if lb := root.Bucket([]byte(sweepID)); lb != nil && lb.Get(logKey(trialID, log.Attempt)) != nil {
				return nil // already stored: a retried upload, or the attempt's report had it
			}
		}
		stored = true
		return putLog(tx, sweepID, trialID, log)
	}, nil)
	return stored && err == nil, err
}

// putLog encodes and stores the log of one of a trial's attempts.
func putLog(tx *bolt.Tx, sweepID, trialID string, log *pb.CommandLog) error {
	b, err := proto.Marshal(log)
	if err != nil {
		return fmt.Errorf("encode log: %w", err)
	}
	root, err := tx.CreateBucketIfNotExists(bucketLogs)
	if err != nil {
		return err
	}
	lb, err := root.CreateBucketIfNotExists([]byte(sweepID))
	if err != nil {
		return err
	}
	return lb.Put(logKey(trialID, log.Attempt), b)
}
