import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import './style.css';
import { takeTokenFromUrl } from './api.js';

takeTokenFromUrl();
createRoot(document.getElementById('root')!).render(<App />);
