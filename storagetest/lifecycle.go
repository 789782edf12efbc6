package storagetest

func lifecycleTests() []test { return nil }
