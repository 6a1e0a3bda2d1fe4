package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"

	"accounts/internal/visible"
)

// printJSON writes v as indented JSON: the domain type's own json tags are
// the shape, as in the API.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printTable writes rows, a slice of structs such as account.User, as a
// table with one column per field that has a json name, headed by that
// name in capitals. The columns come from the type, so a field added to
// the domain shows without an edit here.
func printTable[T any](w io.Writer, rows []T) error {
	t := reflect.TypeFor[T]()
	var cols []int
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		cols = append(cols, i)
		names = append(names, strings.ToUpper(name))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := &printer{w: tw}
	p.f("%s\n", strings.Join(names, "\t"))
	for _, r := range rows {
		v := reflect.ValueOf(r)
		cells := make([]string, len(cols))
		for j, i := range cols {
			cells[j] = cell(v.Field(i))
		}
		p.f("%s\n", strings.Join(cells, "\t"))
	}
	return errors.Join(p.err, tw.Flush())
}

// cell is how a table shows one value: times in UTC as RFC 3339, a nil
// pointer (a NULL) as "-", a value of a type with a JSON form of its own
// (a nullable type) as that form, null as "-", anything else as fmt
// prints it; whatever it is, with its invisible characters, tabs and line
// breaks escaped (visible.Text), so that a value a user chose can neither
// drive the terminal nor forge a column or a row.
func cell(v reflect.Value) string {
	return visible.Text(rawCell(v), 0)
}

func rawCell(v reflect.Value) string {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "-"
		}
		v = v.Elem()
	}
	switch x := v.Interface().(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case fmt.Stringer:
		return x.String()
	case json.Marshaler:
		return jsonCell(x)
	}
	return fmt.Sprint(v.Interface())
}

// jsonCell shows a value by its JSON form: a string without its quotes,
// null as "-".
func jsonCell(m json.Marshaler) string {
	b, err := m.MarshalJSON()
	switch {
	case err != nil:
		return "?"
	case string(b) == "null":
		return "-"
	}
	var str string
	if json.Unmarshal(b, &str) == nil {
		return str
	}
	return string(b)
}
