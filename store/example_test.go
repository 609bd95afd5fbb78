package store_test

import (
	"fmt"

	"github.com/sluicehq/sluice/store"
)

func ExampleEntityID() {
	id := store.EntityID("acme", "github", "repository", "1296269")
	fmt.Println(id)
	// The same remote object always maps to the same entity, and the
	// tenant is part of the hash.
	fmt.Println(id == store.EntityID("acme", "github", "repository", "1296269"))
	fmt.Println(id == store.EntityID("globex", "github", "repository", "1296269"))
	// Output:
	// 0dd68c3b-368d-5ae7-9d8f-ff3fe7919529
	// true
	// false
}
