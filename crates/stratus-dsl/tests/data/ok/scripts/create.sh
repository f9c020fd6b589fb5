#!/bin/sh
ctx logger info create
