//! `vigocli`: the REST client and its command groups. The modules arrive with the
//! vigocli issue.
