module github.com/sluicehq/sluice/registry/testdata/echo

go 1.26.0

require github.com/sluicehq/sluice/guest-sdk v0.0.0

require github.com/extism/go-pdk v1.1.3 // indirect

replace github.com/sluicehq/sluice/guest-sdk => ../../../guest-sdk
