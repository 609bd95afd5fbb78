package actions

import (
	"context"
	"errors"
	"time"

	"github.com/sluicehq/sluice/store"
)

// ConnectionDeletedMessage is the error of a run refused because its
// connection was deleted after the run was requested. The id may name a
// connection created since, maybe on another remote account, and nobody
// asked for a change there.
const ConnectionDeletedMessage = "the connection was deleted after this action was requested"

// inverseNotRunMessage is the error of the inverse of such a grant: the
// grant stays on the old remote account until someone removes it.
const inverseNotRunMessage = ConnectionDeletedMessage + "; its grant was not revoked: revoke it on the remote by hand"

// connectionCreated returns when the tenant's connection id, as it is
// now, was created; zero if the store holds no record of it (then the
// Connections lookup decides, as before).
func connectionCreated(ctx context.Context, t *store.Tenant, id string) (time.Time, error) {
	c, err := t.Connection(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return time.Time{}, nil
	}
	return c.CreatedAt, err
}

// outlived returns the error, with msg, of a run requested at requested
// of a connection now created at created: requested earlier, it was
// requested of a connection deleted since. Nil if it is this one's.
func outlived(requested, created time.Time, msg string) *store.RunError {
	if !requested.Before(created) {
		return nil
	}
	return &store.RunError{Type: store.RunConnectionDeleted, Message: msg, Count: 1}
}
