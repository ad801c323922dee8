package sqlstore

// DeleteInactiveSQL lets tests look at the plan of the expiry delete.
const DeleteInactiveSQL = deleteInactive
