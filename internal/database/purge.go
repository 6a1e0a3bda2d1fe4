package database

import entsql "entgo.io/ent/dialect/sql"

// PurgeBatch is the predicate of one batch of a purge: the rows of table
// whose key column is among the first batch rows matching where, less the
// rows another transaction holds (FOR UPDATE SKIP LOCKED). An Ent delete
// with it removes at most batch rows, and replicas purging at once
// neither wait on each other nor delete a row twice. The sessions, audit
// and throttle purges all use it.
func PurgeBatch(table, key string, where *entsql.Predicate, batch int) func(*entsql.Selector) {
	return func(sel *entsql.Selector) {
		rows := entsql.Select(key).From(entsql.Table(table)).
			Where(where).
			Limit(batch).
			ForUpdate(entsql.WithLockAction(entsql.SkipLocked))
		sel.Where(entsql.In(sel.C(key), rows))
	}
}
