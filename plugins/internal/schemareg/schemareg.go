package schemareg

import (
	"fmt"

	"github.com/trovedb/trove"
)

// Add returns regs with rs appended (its document copied) and added true;
// regs itself is never changed, so readers may keep it. When (rs.ID,
// rs.Version) is registered already it returns regs and added false with
// an equal document, ErrConflict with another. pkg starts the error text.
func Add(pkg string, regs []trove.RegisteredSchema, rs trove.RegisteredSchema) (next []trove.RegisteredSchema, added bool, err error) {
	for _, have := range regs {
		if have.ID == rs.ID && have.Version == rs.Version {
			if trove.JSONEqual(have.Schema, rs.Schema) {
				return regs, false, nil
			}
			return regs, false, fmt.Errorf("%w: %s: schema %s version %s is stored with another document", trove.ErrConflict, pkg, rs.ID, rs.Version)
		}
	}
	rs.Schema = append([]byte(nil), rs.Schema...)
	return append(regs[:len(regs):len(regs)], rs), true, nil
}

// Copy returns a copy of regs, documents included.
func Copy(regs []trove.RegisteredSchema) []trove.RegisteredSchema {
	out := make([]trove.RegisteredSchema, len(regs))
	for i, r := range regs {
		r.Schema = append([]byte(nil), r.Schema...)
		out[i] = r
	}
	return out
}
