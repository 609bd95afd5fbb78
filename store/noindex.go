package store

// No persistent indexing. A connection whose manifest or settings turn
// persistent indexing off never has its objects written here: the
// engine streams them to the connection's outbound sink, and CommitPage
// (Page.NoIndex) writes of each object only
//
//	pm/{run}/{entity}   the payload-manifest digest, as for any page,
//
// so the run's receipt still signs a Merkle root over every object, plus
// the page's lineage, checkpoint and run record. No o/, oi/ or om/ entry
// is written, so there is nothing to compare against: every object of
// such a page counts as created. Edges and staged deletions are not
// kept either (their lineage is).

// digestOnly writes o's payload-manifest entry and nothing else.
func (w *pageWriter) digestOnly(o Object) error {
	if err := checkEntity("entity id", o.EntityID); err != nil {
		return err
	}
	return w.txn.Set(w.a.key(w.t.prefix, kManifest, w.run, o.EntityID), w.a.quoted(o.Digest))
}
