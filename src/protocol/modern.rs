//! Modern (CSR-based, v1 interface / charmlibs) protocol models.
