package service

import (
	"context"
	"time"

	"accounts/internal/account"
)

// Expired sessions and throttle counters are purged every purgeInterval,
// in batches of purgeBatch rows, at most purgeBatches batches a round, so
// one round's work is bounded whatever piled up.
const (
	purgeInterval = time.Minute
	purgeBatch    = 1000
	purgeBatches  = 100
)

// purgeStep deletes up to one batch of rows and says how many it deleted.
type purgeStep func(context.Context) (int, error)

// purgeOf are the services whose expired rows the purge job deletes.
type purgeOf struct {
	sessions *account.Sessions
	users    *account.Users
	guard    *account.Guard
	audit    *account.Audit
}

// purgeSteps are the batched deletes of the purge job: expired sessions,
// idempotency answers past their retention, throttle counters whose
// windows passed, and audit events older than retention (none when
// retention is 0).
func purgeSteps(of purgeOf, retention time.Duration, now func() time.Time) []purgeStep {
	steps := []purgeStep{
		func(ctx context.Context) (int, error) { return of.sessions.Purge(ctx, purgeBatch) },
		func(ctx context.Context) (int, error) { return of.users.PurgeIdempotencyKeys(ctx, purgeBatch) },
		func(ctx context.Context) (int, error) { return of.guard.Purge(ctx, now(), purgeBatch) },
	}
	if retention > 0 {
		steps = append(steps, func(ctx context.Context) (int, error) {
			return of.audit.Purge(ctx, now().Add(-retention), purgeBatch)
		})
	}
	return steps
}

// purgeJob runs the purge steps every purgeInterval until ctx ends. Every
// replica runs it; the batches skip rows another replica is deleting
// (SKIP LOCKED), so each row is deleted once and no replica waits.
func (p *Process) purgeJob(steps []purgeStep) job {
	return func(ctx context.Context) {
		tick := time.NewTicker(purgeInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for _, step := range steps {
				p.purgeRound(ctx, step)
			}
		}
	}
}

// purgeRound runs step until it deletes less than a full batch, fails, or
// has run purgeBatches times.
func (p *Process) purgeRound(ctx context.Context, step purgeStep) {
	for range purgeBatches {
		n, err := step(ctx)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Warn("purge of expired rows failed; retrying next round", "error", err.Error())
			}
			return
		}
		if n < purgeBatch {
			return
		}
	}
}
