package sandbox

// Word lists the generated directory draws from. They are part of the
// data format: changing them changes every seed's data and the golden
// files in testdata/.

var firstNames = [...]string{
	"Ada", "Alan", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken",
	"Frances", "Edsger", "Radia", "Donald", "Hedy", "Tim", "Katherine", "John",
	"Sophie", "Niklaus", "Karen", "Bjarne", "Shafi", "Leslie", "Jean", "Guido",
	"Anita", "Claude", "Mary", "Vint", "Lynn", "Robert", "Annie", "Whitfield",
	"Evelyn", "Butler", "Carol", "Fernando", "Joan", "Ivan", "Adele", "Brian",
	"Elena", "Marco", "Priya", "Kenji", "Amara", "Diego", "Ingrid", "Tariq",
	"Mei", "Oskar", "Zanele", "Mateo", "Freya", "Ravi", "Yara", "Hugo",
	"Noor", "Lars", "Chiara", "Kwame", "Aiko", "Pablo", "Leila", "Sven",
}

var lastNames = [...]string{
	"Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson",
	"Allen", "Dijkstra", "Perlman", "Knuth", "Lamarr", "Berners", "Johnson", "McCarthy",
	"Wilson", "Wirth", "Jones", "Stroustrup", "Goldwasser", "Lamport", "Sammet", "Rossum",
	"Borg", "Shannon", "Keller", "Cerf", "Conway", "Kahn", "Easley", "Diffie",
	"Boyd", "Lampson", "Shaw", "Corbato", "Clarke", "Sutherland", "Goldberg", "Kernighan",
	"Rossi", "Bianchi", "Sharma", "Tanaka", "Okafor", "Garcia", "Larsen", "Haddad",
	"Chen", "Nowak", "Dlamini", "Lopez", "Eriksen", "Patel", "Haddou", "Laurent",
	"Rahman", "Nilsen", "Ferrari", "Mensah", "Sato", "Romero", "Karimi", "Berg",
}

type department struct {
	name   string
	titles []string
}

var departments = [...]department{
	{"Engineering", []string{"Software Engineer", "Senior Software Engineer", "Staff Engineer", "Engineering Manager", "Site Reliability Engineer"}},
	{"Security", []string{"Security Engineer", "Security Analyst", "Head of Security"}},
	{"Product", []string{"Product Manager", "Senior Product Manager", "Product Designer"}},
	{"Sales", []string{"Account Executive", "Sales Engineer", "Sales Manager"}},
	{"Marketing", []string{"Marketing Manager", "Content Strategist", "Growth Analyst"}},
	{"Finance", []string{"Accountant", "Financial Analyst", "Controller"}},
	{"People", []string{"Recruiter", "People Partner", "People Operations Lead"}},
	{"Legal", []string{"Counsel", "Paralegal", "Compliance Officer"}},
	{"Support", []string{"Support Engineer", "Support Specialist", "Support Lead"}},
	{"IT", []string{"IT Administrator", "Systems Administrator", "IT Manager"}},
}

var areaCodes = [...]string{"202", "212", "303", "312", "415", "512", "617", "206"}

var groupAdjectives = [...]string{
	"Platform", "Identity", "Payments", "Data", "Mobile", "Web", "Infra", "Growth",
	"Analytics", "Compliance", "Billing", "Search", "Edge", "Core", "Trust", "Ops",
}

var groupKinds = [...]string{"Team", "Guild", "Squad", "Committee", "Working Group", "On-call"}

var companyWords = [...]string{"Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Soylent", "Wonka"}

var companySuffixes = [...]string{"Corp", "Inc", "Labs", "Group", "Industries", "Systems"}
