package coordinator

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flatsweep/flatsweep/coordinator/lease"
	"github.com/flatsweep/flatsweep/coordinator/store"
)

// statusOf maps an error of the core (or the store) to the gRPC status the
// services return: the one place where the core's typed errors meet
// transport codes.
//
//	lease.ErrLeaseLost      FailedPrecondition  (the worker stops the trial)
//	lease.ErrUnknownWorker  NotFound            (the worker registers again)
//	store.ErrNotFound       NotFound
//	lease.ErrConflict       AlreadyExists
//	lease.ErrInvalid        InvalidArgument
//	lease.ErrForbidden      PermissionDenied
//	lease.ErrStopped        Unavailable
//	context errors          Canceled, DeadlineExceeded
//	anything else           Internal
func statusOf(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Internal
	switch {
	case errors.Is(err, lease.ErrLeaseLost):
		code = codes.FailedPrecondition
	case errors.Is(err, lease.ErrUnknownWorker), errors.Is(err, store.ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, lease.ErrConflict):
		code = codes.AlreadyExists
	case errors.Is(err, lease.ErrInvalid):
		code = codes.InvalidArgument
	case errors.Is(err, lease.ErrForbidden):
		code = codes.PermissionDenied
	case errors.Is(err, lease.ErrStopped):
		code = codes.Unavailable
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	return status.Error(code, err.Error())
}
