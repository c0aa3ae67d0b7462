package sqlstore

// CheckConformingStrings exports checkConformingStrings to the tests.
var CheckConformingStrings = checkConformingStrings
