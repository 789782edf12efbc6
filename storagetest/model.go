package storagetest

func modelTests() []test { return nil }
