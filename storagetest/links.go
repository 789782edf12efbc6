package storagetest

func linkTests() []test { return nil }
