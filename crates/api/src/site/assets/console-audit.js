// console-audit: pages of the staff console (see console.js for C.page and C.nav).
'use strict';
