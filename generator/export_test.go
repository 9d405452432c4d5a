package generator

// StoreLabel exposes storeLabel to the external tests, which check that
// runbooks select VolumeSnapshots by the label the snapshot jobs set.
var StoreLabel = storeLabel
