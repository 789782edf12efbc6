package storagetest

func capTests() []test { return nil }
