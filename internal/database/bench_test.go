package database_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	entuser "accounts/ent/user"
	"accounts/internal/database"
	"accounts/internal/testdb"
)

// BenchmarkUserByID reads one user's public columns by id, one query at a
// time, in the ways the service could, side by side in one run: raw pgxpool
// (the yardstick, on a pool of its own with the same settings), a
// statement built once with Ent's SQL builder and run on Ent's driver (what
// the service does on every authenticated request), and the Ent client
// (every other query of the service). Each sub-benchmark after the first
// reports x_pgxpool, its time per query over the yardstick's measured just
// before it. Run with
//
//	go test -run '^$' -bench UserByID -benchmem ./internal/database
//
// The HTTP benchmark (bench/) shows what they add up to per request.
func BenchmarkUserByID(b *testing.B) {
	d := settings(b, testdb.URL(b))
	db := open(b, d, discard)
	ctx := context.Background()
	u, err := db.Ent.User.Create().SetUsername("benchmark").SetPasswordHash([]byte{1}).Save(ctx)
	if err != nil {
		b.Fatal(err)
	}
	pc, err := database.PoolConfig(d, discard)
	if err != nil {
		b.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)

	cols := []string{entuser.FieldID, entuser.FieldUsername, entuser.FieldRole, entuser.FieldIsActive, entuser.FieldCreatedAt, entuser.FieldUpdatedAt}
	query := userByIDQuery(cols)

	type row struct {
		id               uuid.UUID
		username, role   string
		active           bool
		created, updated time.Time
	}
	check := func(b *testing.B, r row) {
		if r.id != u.ID || r.username != "benchmark" || r.role != "USER" || !r.active {
			b.Fatalf("read %+v", r)
		}
	}
	ways := []struct {
		name string
		read func() (row, error)
	}{
		{"pgxpool", func() (r row, err error) {
			err = pool.QueryRow(ctx, query, u.ID).Scan(&r.id, &r.username, &r.role, &r.active, &r.created, &r.updated)
			return r, err
		}},
		{"prebuilt_on_ent_driver", func() (r row, err error) {
			var rows entsql.Rows
			if err := db.Driver.Query(ctx, query, []any{u.ID}, &rows); err != nil {
				return r, err
			}
			defer func() { _ = rows.Close() }()
			if !rows.Next() {
				return r, fmt.Errorf("no row: %v", rows.Err())
			}
			err = rows.Scan(&r.id, &r.username, &r.role, &r.active, &r.created, &r.updated)
			return r, err
		}},
		{"ent_client", func() (r row, err error) {
			e, err := db.Ent.User.Query().Where(entuser.ID(u.ID)).Select(cols...).Only(ctx)
			if err != nil {
				return r, err
			}
			return row{e.ID, e.Username, string(e.Role), e.IsActive, e.CreatedAt, e.UpdatedAt}, nil
		}},
	}
	var yardstick float64
	for i, w := range ways {
		b.Run(w.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, err := w.read()
				if err != nil {
					b.Fatal(err)
				}
				check(b, r)
			}
			perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			if i == 0 {
				yardstick = perOp
			} else if yardstick > 0 {
				b.ReportMetric(perOp/yardstick, "x_pgxpool")
			}
		})
	}
}

// userByIDQuery is the SELECT of cols of one user by id that Ent builds,
// prebuilt once.
func userByIDQuery(cols []string) string {
	pg := entsql.Dialect(dialect.Postgres)
	t := pg.Table(entuser.Table)
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = t.C(c)
	}
	query, _ := pg.Select(sel...).From(t).Where(entsql.EQ(t.C(entuser.FieldID), uuid.Nil)).Query()
	return query
}
