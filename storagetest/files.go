package storagetest

func fileTests() []test { return nil }
