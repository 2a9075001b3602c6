package people

// The list and search statements, for the test that runs them under
// row-level security alone (asking for another organisation).
var (
	ListPeopleSQL             = listPeopleSQL
	SearchPeopleByNHSSQL      = searchPeopleByNHSSQL
	SearchPeopleByPostcodeSQL = searchPeopleByPostcodeSQL
	SearchPeopleByNameSQL     = searchPeopleByNameSQL
	SearchPeopleByNameYearSQL = searchPeopleByNameYearSQL
)
