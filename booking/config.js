// Where the booking site finds the ProEventa API. `proeventa serve` answers this file itself with
// the address it really listens on; a static host serves this copy, edited at deploy time.
window.API_BASE_URL = "http://127.0.0.1:8000";
