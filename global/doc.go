package global
