package trove

import (
	"fmt"
	"unicode/utf8"
)

// DefaultMaxIdentifierBytes is the cap on each identifier when
// Config.MaxIdentifierBytes is zero: 256 bytes.
const DefaultMaxIdentifierBytes = 256

// identifier checks one identifier field against the core's cap.
func (c *Core) identifier(field, v string) error {
	if len(v) > c.maxID {
		return invalidf("%s is %d bytes, over the identifier cap of %d bytes", field, len(v), c.maxID)
	}
	if !utf8.ValidString(v) {
		return invalidf("%s is not valid UTF-8", field)
	}
	return nil
}

// checkIdentifiers applies the identifier cap to every identifier of e:
// id, producer, schema identity (and a reference's version), link types
// and link target ids.
func (c *Core) checkIdentifiers(e Event) error {
	if err := c.identifier("id", e.ID.ID); err != nil {
		return err
	}
	if err := c.identifier("producer", e.Producer); err != nil {
		return err
	}
	field := "schema $id"
	if e.Schema.IsReference() {
		field = "schema id"
		if err := c.identifier("schema version", e.Schema.RefVersion()); err != nil {
			return err
		}
	}
	if err := c.identifier(field, e.Schema.Identity()); err != nil {
		return err
	}
	for i, l := range e.Links {
		if err := c.checkLink(l); err != nil {
			return fmt.Errorf("links[%d]: %w", i, err)
		}
	}
	return nil
}

func (c *Core) checkLink(l EventLink) error {
	if err := c.identifier("link type", l.Type); err != nil {
		return err
	}
	return c.identifier("link targetEvent.id", l.TargetEvent.ID)
}
